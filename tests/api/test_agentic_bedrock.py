"""The Bedrock planner against a loopback fake of the Converse API, through real aiobotocore.

The fake is an aiohttp server implementing ``POST /model/{modelId}/converse``; the
client finds it through ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, as it would find a VPC
endpoint, so request signing (SigV4), serialisation and response parsing are botocore's
own. Every way the model can fail ends in the rule planner's plan and a report of why.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from avs_api.agentic.bedrock import BedrockPlanner, open_bedrock_client
from avs_api.agentic.fallback import FallbackPlanner, RulesOnly
from avs_api.agentic.plan import SearchPlan
from avs_api.agentic.planner import PlanOutcome
from avs_api.agentic.planning import open_planning
from avs_api.agentic.rules import RulePlanner
from avs_api.agentic.vocabulary import Vocabulary
from avs_api.search.params import SearchFilters, Sort
from avs_api.settings import ApiSettings
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.embedded.processes import free_port

MODEL_ID = "qwen.qwen3-32b-v1:0"
TIMEOUT_S = 1.0
GOOD_ANSWER = json.dumps(
    {
        "query": None,
        "filters": {"tags_all": ["mecha"], "year_from": 1990, "year_to": 1999, "episodes_max": 13},
        "sort": "score",
        "order": None,
        "similar_to": None,
    }
)
GOOD_PLAN = SearchPlan(
    filters=SearchFilters(tags_all=["mecha"], year_from=1990, year_to=1999, episodes_max=13), sort=Sort.SCORE
)
Q = "best short mecha from the 90s"

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


def converse_reply(text: str, *, stop_reason: str = "end_turn") -> web.Response:
    """A Converse response as Bedrock shapes it."""
    return web.json_response(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": stop_reason,
            "usage": {"inputTokens": 1800, "outputTokens": 40, "totalTokens": 1840},
            "metrics": {"latencyMs": 12},
        }
    )


def bedrock_error(status: int, error_type: str, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": error_type})


@dataclass
class Received:
    model_id: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeConverse:
    """A loopback Bedrock Runtime whose answers the test sets (``reply``) and whose requests it reads."""

    reply: Reply = field(default=lambda request: _answer(GOOD_ANSWER))
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(
            Received(request.match_info["model_id"], dict(request.headers), json.loads(await request.read()))
        )
        return await self.reply(request)

    async def slow(self, request: web.Request) -> web.StreamResponse:
        """Answers only when the test ends (far beyond any planner timeout)."""
        await asyncio.wait_for(self.release.wait(), timeout=30)
        return converse_reply(GOOD_ANSWER)


async def _answer(text: str, **kwargs: Any) -> web.Response:
    return converse_reply(text, **kwargs)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeConverse]:
    server = FakeConverse()
    app = web.Application()
    app.router.add_post("/model/{model_id}/converse", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    server.url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)  # sign with SigV4, not an API key
    yield server
    server.release.set()
    await runner.cleanup()


async def plan_with_bedrock(q: str, *, timeout_s: float = TIMEOUT_S) -> PlanOutcome:
    """Plan ``q`` as the app does: the planner's own client, the deadline, the rules behind it."""
    async with open_bedrock_client("us-east-1", timeout_s=timeout_s) as client:
        vocabulary = Vocabulary()
        primary = BedrockPlanner(client, vocabulary=vocabulary, model_id=MODEL_ID)
        planner = FallbackPlanner(primary, RulePlanner(vocabulary), timeout_s=timeout_s)
        return await planner.plan_with_report(q)


async def test_a_good_answer_is_the_plan(fake: FakeConverse) -> None:
    outcome = await plan_with_bedrock(Q)

    assert outcome.plan == GOOD_PLAN
    assert outcome.report.used == "bedrock" and outcome.report.requested == "bedrock"
    assert outcome.report.fallback_reason is None


async def test_the_request_is_a_signed_converse_call_with_the_prompt(fake: FakeConverse) -> None:
    await plan_with_bedrock(Q)

    [request] = fake.received
    assert request.model_id == MODEL_ID
    auth = request.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/bedrock/aws4_request" in auth and "Signature=" in auth
    assert "X-Amz-Date" in request.headers
    body = request.body
    assert set(body) == {"messages", "system", "inferenceConfig"}
    assert body["inferenceConfig"] == {"maxTokens": 512, "temperature": 0.0}
    [system] = body["system"]
    assert "JSON schema" in system["text"] and "Slice of Life" in system["text"]
    roles = [m["role"] for m in body["messages"]]
    assert roles[0] == "user" and roles[-1] == "user"
    assert all(a != b for a, b in itertools.pairwise(roles)), "roles must alternate"
    assert body["messages"][-1]["content"] == [{"text": Q}]
    # The worked examples are valid plans themselves.
    for message in body["messages"]:
        if message["role"] == "assistant":
            SearchPlan.model_validate_json(message["content"][0]["text"], strict=True)


async def test_a_reasoning_block_and_a_code_fence_around_the_json_are_tolerated(fake: FakeConverse) -> None:
    fake.reply = lambda request: _answer(f"<think>The user wants mecha.</think>\n```json\n{GOOD_ANSWER}\n```")

    outcome = await plan_with_bedrock(Q)

    assert outcome.report.used == "bedrock"
    assert outcome.plan == GOOD_PLAN


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        ("Sure! Here is your plan: {'filters': {}}", "not JSON"),
        ('{"filters": {"tags_all": ["mecha"], "year_from": 1990', "not JSON"),
        ('["mecha"]', "not an object"),
        ('{"filters": {"year": 99999}, "sort": "best"}', "filters.year"),
        ('{"filters": {"year": 2015}, "sort": "best"}', "sort"),
        ('{"filters": {"year": "2015"}}', "filters.year"),
        ('{"filters": {"genres_all": ["Giant Robots"]}}', "unknown genres"),
        ('{"filters": {"include_orphaned": true}}', "orphaned"),
        ('{"filters": {}, "explanation": "because"}', "explanation"),
        ("", "empty"),
    ],
    ids=[
        "prose",
        "truncated",
        "array",
        "year-99999-and-unknown-sort",
        "unknown-sort",
        "year-as-string",
        "unknown-genre",
        "orphans",
        "extra-key",
        "empty",
    ],
)
async def test_an_invalid_answer_falls_back_to_the_rules(
    fake: FakeConverse, answer: str, detail: str
) -> None:
    fake.reply = lambda request: _answer(answer)

    outcome = await plan_with_bedrock(Q)

    assert outcome.plan == RulePlanner().plan_now(Q)
    report = outcome.report
    assert (report.used, report.requested, report.fallback_reason) == ("rules", "bedrock", "invalid_answer")
    assert report.detail is not None and detail in report.detail


async def test_an_answer_cut_at_max_tokens_falls_back(fake: FakeConverse) -> None:
    fake.reply = lambda request: _answer(GOOD_ANSWER[:40], stop_reason="max_tokens")

    outcome = await plan_with_bedrock(Q)

    assert outcome.report.fallback_reason == "invalid_answer"
    assert "maxTokens" in (outcome.report.detail or "")


async def test_a_slow_answer_falls_back_at_the_deadline(fake: FakeConverse) -> None:
    fake.reply = fake.slow
    started = time.perf_counter()

    outcome = await plan_with_bedrock(Q, timeout_s=0.5)

    elapsed = time.perf_counter() - started
    assert outcome.plan == RulePlanner().plan_now(Q)
    assert (outcome.report.used, outcome.report.fallback_reason) == ("rules", "timeout")
    assert 0.5 <= elapsed < 2.0
    assert len(fake.received) == 1  # asked once, not retried


async def test_a_refused_connection_falls_back_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{free_port()}")

    outcome = await plan_with_bedrock(Q, timeout_s=5.0)

    assert outcome.plan == RulePlanner().plan_now(Q)
    assert (outcome.report.used, outcome.report.requested) == ("rules", "bedrock")
    # "unreachable", not "timeout": no retries with backoff (about 20 s with the shared
    # client's policy) hide the outage behind the deadline.
    assert outcome.report.fallback_reason == "unreachable"
    assert outcome.report.latency_ms < 5000


@pytest.mark.parametrize(
    ("status", "error_type", "reason"),
    [
        (403, "AccessDeniedException", "rejected"),
        (400, "ValidationException", "rejected"),
        (404, "ResourceNotFoundException", "rejected"),
        (429, "ThrottlingException", "unavailable"),
        (424, "ModelErrorException", "rejected"),
        (408, "ModelTimeoutException", "timeout"),
        (503, "ServiceUnavailableException", "unavailable"),
        (500, "InternalServerException", "unavailable"),
    ],
)
async def test_bedrock_errors_fall_back_with_their_reason(
    fake: FakeConverse, status: int, error_type: str, reason: str
) -> None:
    async def error(request: web.Request) -> web.Response:
        return bedrock_error(status, error_type, f"simulated {error_type}")

    fake.reply = error

    outcome = await plan_with_bedrock(Q)

    assert (outcome.report.used, outcome.report.fallback_reason) == ("rules", reason)
    assert error_type in (outcome.report.detail or "")
    assert len(fake.received) == 1


async def test_open_planning_uses_the_configured_model_id(fake: FakeConverse, tmp_path: Any) -> None:
    settings = ApiSettings(agentic_planner="bedrock", bedrock_model_id="qwen.qwen3-235b-a22b-2507-v1:0")
    index = EdgeVectorIndex(tmp_path / "empty")  # unusable: the planner plans with the fixed vocabulary
    try:
        async with open_planning(settings) as planning:
            outcome = await planning.plan(Q, index)
    finally:
        await index.close()

    assert outcome.report.used == "bedrock" and outcome.plan == GOOD_PLAN
    assert [r.model_id for r in fake.received] == ["qwen.qwen3-235b-a22b-2507-v1:0"]


# ----------------------------------------------------------------------------- the fallback itself


class BrokenPlanner:
    """A planner with a bug (not a PlannerFailure): the search must still get a plan."""

    name = "bedrock"

    async def plan(self, q: str) -> SearchPlan:
        raise KeyError("output")


async def test_a_crashing_planner_falls_back_with_reason_error() -> None:
    outcome = await FallbackPlanner(BrokenPlanner(), RulePlanner(), timeout_s=1.0).plan_with_report(Q)

    assert outcome.plan == RulePlanner().plan_now(Q)
    assert (outcome.report.used, outcome.report.fallback_reason) == ("rules", "error")
    assert "KeyError" in (outcome.report.detail or "")


async def test_the_rules_planner_alone_reports_itself() -> None:
    outcome = await RulesOnly(RulePlanner()).plan_with_report(Q)

    assert outcome.plan == RulePlanner().plan_now(Q)
    assert outcome.report.model_dump(exclude={"latency_ms"}) == {
        "used": "rules",
        "requested": "rules",
        "fallback_reason": None,
        "detail": None,
    }
