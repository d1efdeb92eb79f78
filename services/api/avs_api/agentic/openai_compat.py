"""A planner on any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, Ollama, OpenAI, ...).

``base_url`` is the API root including its version, as OpenAI's clients take it
(``https://api.openai.com/v1``, ``http://127.0.0.1:11434/v1``); the request goes to
``{base_url}/chat/completions`` with the shared prompt and JSON mode
(``response_format: {"type": "json_object"}``).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import structlog

from avs_api.agentic.llm_common import MAX_OUTPUT_TOKENS, build_prompt, parse_plan
from avs_api.agentic.plan import SearchPlan
from avs_api.agentic.planner import (
    InvalidPlanAnswer,
    PlannerName,
    PlannerRejected,
    PlannerTimeout,
    PlannerUnavailable,
    PlannerUnreachable,
)
from avs_api.agentic.vocabulary import Vocabulary

log = structlog.get_logger(__name__)

_MAX_BODY_BYTES = 256 * 1024


class OpenAICompatPlanner:
    """Plans with a chat-completions model; raises :class:`PlannerFailure` subclasses."""

    name: PlannerName = "openai"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        model: str,
        vocabulary: Vocabulary,
        api_key: str | None = None,
        timeout_s: float = 3.0,
        max_tokens: int = MAX_OUTPUT_TOKENS,
    ) -> None:
        self._session = session
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._vocabulary = vocabulary
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_tokens = max_tokens

    async def plan(self, q: str) -> SearchPlan:
        prompt = build_prompt(q, self._vocabulary)
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                *({"role": role, "content": text} for role, text in prompt.turns),
            ],
            "temperature": 0,
            "max_tokens": self._max_tokens,
            "response_format": {"type": "json_object"},
        }
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            async with self._session.post(
                self.url, json=body, headers=headers, timeout=self._timeout
            ) as resp:
                status = resp.status
                raw = await _read_capped(resp)
        except TimeoutError as exc:
            raise PlannerTimeout(f"{self.url} did not answer in time") from exc
        except aiohttp.ClientConnectionError as exc:
            raise PlannerUnreachable(f"{self.url} is unreachable: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise PlannerUnavailable(f"{self.url} failed: {exc}") from exc
        if status != 200:
            detail = f"{self.url} answered HTTP {status}: {raw[:300].decode('utf-8', 'replace')}"
            if status in (408, 429) or status >= 500:
                raise PlannerUnavailable(detail)
            raise PlannerRejected(detail)
        return parse_plan(self._answer_text(raw), self._vocabulary)

    def _answer_text(self, raw: bytes) -> str:
        try:
            data: Any = json.loads(raw)
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise InvalidPlanAnswer(f"not a chat completion: {raw[:200].decode('utf-8', 'replace')}") from exc
        if choice.get("finish_reason") == "length":
            raise InvalidPlanAnswer("the answer was cut off at max_tokens")
        if not isinstance(content, str):
            raise InvalidPlanAnswer("the completion has no text content")
        usage = data.get("usage") or {}
        log.debug(
            "openai-compatible planned",
            model=self.model,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )
        return content


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > _MAX_BODY_BYTES:
            raise InvalidPlanAnswer(f"the answer is over {_MAX_BODY_BYTES} bytes; a plan is never that long")
    return bytes(body)
