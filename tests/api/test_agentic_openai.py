"""The OpenAI-compatible planner against a loopback fake ``/v1/chat/completions``.

The fake checks nothing itself: it records what it was sent and answers what the test
says, and the tests read both. Every failure ends in the rule planner's plan and a
report of why.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from avs_api.agentic.fallback import FallbackPlanner
from avs_api.agentic.openai_compat import OpenAICompatPlanner
from avs_api.agentic.plan import SearchPlan
from avs_api.agentic.planner import PlanOutcome
from avs_api.agentic.planning import open_planning
from avs_api.agentic.rules import RulePlanner
from avs_api.agentic.vocabulary import Vocabulary
from avs_api.search.params import SearchFilters
from avs_api.settings import ApiSettings
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.embedded.processes import free_port
from avs_shared.errors import ConfigurationError

MODEL = "qwen3-32b-instruct"
API_KEY = "sk-test-not-a-real-key"
TIMEOUT_S = 1.0
Q = "movies like Spirited Away but not romance"
GOOD_ANSWER = json.dumps(
    {
        "query": None,
        "filters": {"type": ["MOVIE"], "genres_exclude": ["romance"]},
        "similar_to": "Spirited Away",
    }
)
GOOD_PLAN = SearchPlan(
    filters=SearchFilters(type=["MOVIE"], genres_exclude=["Romance"]),  # the catalogue's spelling
    similar_to="Spirited Away",
)

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


def completion(content: str | None, *, finish_reason: str = "stop") -> web.Response:
    return web.json_response(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 1800, "completion_tokens": 30, "total_tokens": 1830},
        }
    )


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeChat:
    reply: Reply = field(default=lambda request: _completion(GOOD_ANSWER))
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(Received(dict(request.headers), json.loads(await request.read())))
        return await self.reply(request)

    async def slow(self, request: web.Request) -> web.StreamResponse:
        await asyncio.wait_for(self.release.wait(), timeout=30)
        return completion(GOOD_ANSWER)


async def _completion(content: str | None, **kwargs: Any) -> web.Response:
    return completion(content, **kwargs)


@pytest.fixture
async def fake() -> AsyncIterator[FakeChat]:
    server = FakeChat()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    server.url = f"http://127.0.0.1:{port}/v1"
    yield server
    server.release.set()
    await runner.cleanup()


async def plan_with_openai(
    base_url: str, q: str = Q, *, api_key: str | None = API_KEY, timeout_s: float = TIMEOUT_S
) -> PlanOutcome:
    async with aiohttp.ClientSession() as session:
        vocabulary = Vocabulary()
        primary = OpenAICompatPlanner(
            session,
            base_url=base_url,
            model=MODEL,
            api_key=api_key,
            vocabulary=vocabulary,
            timeout_s=timeout_s,
        )
        return await FallbackPlanner(primary, RulePlanner(vocabulary), timeout_s=timeout_s).plan_with_report(
            q
        )


async def test_a_good_answer_is_the_plan(fake: FakeChat) -> None:
    outcome = await plan_with_openai(fake.url)

    assert outcome.plan == GOOD_PLAN
    assert (outcome.report.used, outcome.report.requested, outcome.report.fallback_reason) == (
        "openai",
        "openai",
        None,
    )


async def test_the_request_carries_the_key_model_prompt_and_json_mode(fake: FakeChat) -> None:
    await plan_with_openai(fake.url + "/")  # a trailing slash on the base URL is fine

    [request] = fake.received
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = request.body
    assert body["model"] == MODEL
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0 and body["max_tokens"] == 512
    messages = body["messages"]
    assert messages[0]["role"] == "system" and "JSON schema" in messages[0]["content"]
    assert messages[-1] == {"role": "user", "content": Q}
    turns = [m["role"] for m in messages[1:]]
    assert turns == ["user", "assistant"] * ((len(turns) - 1) // 2) + ["user"]


async def test_without_a_key_no_authorization_is_sent(fake: FakeChat) -> None:
    outcome = await plan_with_openai(fake.url, api_key=None)

    assert outcome.report.used == "openai"
    assert "Authorization" not in fake.received[0].headers


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        ('Here you go: {"filters": {}}', "not JSON"),
        ('{"filters": {"year": 99999}}', "filters.year"),
        ('{"filters": {}, "sort": "hottest"}', "sort"),
        ('{"filters": {"type": ["BLURAY"]}}', "filters.type"),
        ('{"filters": {"genres_any": ["Isekai"]}}', "unknown genres"),
        (None, "no text content"),
    ],
    ids=["prose", "year-99999", "unknown-sort", "unknown-type", "unknown-genre", "null-content"],
)
async def test_an_invalid_answer_falls_back_to_the_rules(
    fake: FakeChat, content: str | None, detail: str
) -> None:
    fake.reply = lambda request: _completion(content)

    outcome = await plan_with_openai(fake.url)

    assert outcome.plan == RulePlanner().plan_now(Q)
    assert (outcome.report.used, outcome.report.requested, outcome.report.fallback_reason) == (
        "rules",
        "openai",
        "invalid_answer",
    )
    assert detail in (outcome.report.detail or "")


async def test_a_body_that_is_not_a_completion_falls_back(fake: FakeChat) -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>gateway</html>", content_type="text/html")

    fake.reply = html

    outcome = await plan_with_openai(fake.url)

    assert outcome.report.fallback_reason == "invalid_answer"
    assert "not a chat completion" in (outcome.report.detail or "")


async def test_an_answer_cut_at_max_tokens_falls_back(fake: FakeChat) -> None:
    fake.reply = lambda request: _completion(GOOD_ANSWER[:30], finish_reason="length")

    outcome = await plan_with_openai(fake.url)

    assert outcome.report.fallback_reason == "invalid_answer"
    assert "max_tokens" in (outcome.report.detail or "")


async def test_a_slow_answer_falls_back_at_the_deadline(fake: FakeChat) -> None:
    fake.reply = fake.slow
    started = time.perf_counter()

    outcome = await plan_with_openai(fake.url, timeout_s=0.5)

    assert outcome.plan == RulePlanner().plan_now(Q)
    assert (outcome.report.used, outcome.report.fallback_reason) == ("rules", "timeout")
    assert 0.5 <= time.perf_counter() - started < 2.0


async def test_a_refused_connection_falls_back_at_once() -> None:
    outcome = await plan_with_openai(f"http://127.0.0.1:{free_port()}/v1", timeout_s=5.0)

    assert (outcome.report.used, outcome.report.fallback_reason) == ("rules", "unreachable")
    assert outcome.plan == RulePlanner().plan_now(Q)
    assert outcome.report.latency_ms < 5000


@pytest.mark.parametrize(
    ("status", "reason"),
    [(401, "rejected"), (403, "rejected"), (404, "rejected"), (429, "unavailable"), (503, "unavailable")],
)
async def test_error_statuses_fall_back_with_their_reason(fake: FakeChat, status: int, reason: str) -> None:
    async def error(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": f"simulated {status}"}}, status=status)

    fake.reply = error

    outcome = await plan_with_openai(fake.url)

    assert (outcome.report.used, outcome.report.fallback_reason) == ("rules", reason)
    assert f"HTTP {status}" in (outcome.report.detail or "")


async def test_open_planning_reads_the_endpoint_model_and_key_from_settings(
    fake: FakeChat, tmp_path: Path
) -> None:
    settings = ApiSettings(
        agentic_planner="openai",
        openai_base_url=fake.url,
        openai_model="local-qwen",
        openai_api_key="sk-from-env",
    )
    index = EdgeVectorIndex(tmp_path / "empty")
    try:
        async with open_planning(settings) as planning:
            outcome = await planning.plan(Q, index)
    finally:
        await index.close()

    assert outcome.report.used == "openai" and outcome.plan == GOOD_PLAN
    [request] = fake.received
    assert request.body["model"] == "local-qwen"
    assert request.headers["Authorization"] == "Bearer sk-from-env"
    assert "sk-from-env" not in repr(settings)  # a secret, never printed


async def test_the_openai_planner_without_a_base_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="AVS_OPENAI_BASE_URL"):
        async with open_planning(ApiSettings(agentic_planner="openai", openai_model="m")):
            pass
