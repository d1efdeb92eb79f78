"""The agentic planner the settings ask for, built once per app, with its clients.

``open_planning`` is entered in the app's lifespan (the agentic router's): it opens the
model client the configured planner needs (a ``bedrock-runtime`` client or an aiohttp
session) and closes it at shutdown. The vocabulary comes from the index's facets,
loaded on first use and refreshed every few minutes; planners are rebuilt only when
it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiobotocore.client import AioBaseClient

from avs_api.agentic.bedrock import BedrockPlanner, open_bedrock_client
from avs_api.agentic.fallback import FallbackPlanner, RulesOnly
from avs_api.agentic.openai_compat import OpenAICompatPlanner
from avs_api.agentic.planner import Planner, PlannerName, PlanOutcome, ReportingPlanner
from avs_api.agentic.rules import RulePlanner
from avs_api.agentic.vocabulary import Vocabulary, vocabulary_from_index
from avs_api.settings import ApiSettings
from avs_shared.errors import ConfigurationError
from avs_shared.ports.vector import VectorIndex

VOCABULARY_TTL_S = 300.0

LlmFactory = Callable[[Vocabulary], Planner]


class Planning:
    """Plans queries with the configured planner; see :func:`open_planning`."""

    def __init__(self, requested: PlannerName, make_llm: LlmFactory | None, *, timeout_s: float) -> None:
        self.requested = requested
        self._make_llm = make_llm
        self._timeout_s = timeout_s
        self._vocabulary: Vocabulary | None = None
        self._loaded_at = 0.0
        self._planner: ReportingPlanner | None = None
        self._lock = asyncio.Lock()

    async def plan(self, q: str, index: VectorIndex) -> PlanOutcome:
        planner = await self._current(index)
        return await planner.plan_with_report(q)

    async def _current(self, index: VectorIndex) -> ReportingPlanner:
        if self._planner is None or time.monotonic() - self._loaded_at > VOCABULARY_TTL_S:
            async with self._lock:
                if self._planner is None or time.monotonic() - self._loaded_at > VOCABULARY_TTL_S:
                    vocabulary = await vocabulary_from_index(index)
                    if self._planner is None or vocabulary != self._vocabulary:
                        self._planner = self._build(vocabulary)
                        self._vocabulary = vocabulary
                    self._loaded_at = time.monotonic()
        return self._planner

    def _build(self, vocabulary: Vocabulary) -> ReportingPlanner:
        rules = RulePlanner(vocabulary)
        if self._make_llm is None:
            return RulesOnly(rules)
        return FallbackPlanner(self._make_llm(vocabulary), rules, timeout_s=self._timeout_s)


@contextlib.asynccontextmanager
async def open_planning(settings: ApiSettings) -> AsyncIterator[Planning]:
    """The planner of ``settings.agentic_planner`` with its client, closed on exit.

    Raises ``ConfigurationError`` at once when the openai planner lacks its base URL or model.
    """
    timeout_s = settings.planner_timeout_seconds
    async with contextlib.AsyncExitStack() as stack:
        make_llm: LlmFactory | None = None
        if settings.agentic_planner == "bedrock":
            client = await stack.enter_async_context(
                open_bedrock_client(settings.aws_region, timeout_s=timeout_s)
            )
            make_llm = functools.partial(_bedrock, client, settings.bedrock_model_id)
        elif settings.agentic_planner == "openai":
            base_url, model = settings.openai_base_url, settings.openai_model
            if not base_url or not model:
                raise ConfigurationError(
                    "AVS_AGENTIC_PLANNER=openai needs AVS_OPENAI_BASE_URL (e.g. http://host:8000/v1) "
                    "and AVS_OPENAI_MODEL"
                )
            session = await stack.enter_async_context(aiohttp.ClientSession())
            key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
            make_llm = functools.partial(_openai, session, base_url, model, key, timeout_s)
        yield Planning(settings.agentic_planner, make_llm, timeout_s=timeout_s)


def _bedrock(client: AioBaseClient, model_id: str, vocabulary: Vocabulary) -> Planner:
    return BedrockPlanner(client, vocabulary=vocabulary, model_id=model_id)


def _openai(
    session: aiohttp.ClientSession,
    base_url: str,
    model: str,
    key: str | None,
    timeout_s: float,
    vocabulary: Vocabulary,
) -> Planner:
    return OpenAICompatPlanner(
        session, base_url=base_url, model=model, api_key=key, vocabulary=vocabulary, timeout_s=timeout_s
    )
