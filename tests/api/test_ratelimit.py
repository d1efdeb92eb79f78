"""Per-client rate limiting on the real app and redis-server, and the limiter adapter itself.

The adapter's two implementations (Redis, and the in-process fallback) run the same
contract; the app is tested with Redis up and with Redis down.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from avs_api.app import create_app
from avs_api.auth import generate_api_key
from avs_api.settings import ApiSettings
from avs_shared.adapters.redis_limits import LocalLimits, RedisLimits, Window
from avs_shared.embedded.processes import MotoServer, RedisServer, free_port

ALICE = generate_api_key("alice", "reviewer")
BOB = generate_api_key("bob", "reviewer")

extra = APIRouter()


@extra.get("/test-ping")
async def ping() -> dict[str, str]:
    return {"pong": "yes"}


def limited_app(redis_url: str, tmp_path: Path, **overrides: Any) -> FastAPI:
    values: dict[str, Any] = {
        "service_name": "avs-api-test",
        "redis_url": redis_url,
        "data_dir": tmp_path,
        "rate_limit_enabled": True,
        "rate_limit_per_minute": 3,
        "rate_limit_burst": 3,
        "rate_limit_key_prefix": f"t-{uuid.uuid4().hex[:8]}:rl:",
        "api_keys": [ALICE.record.model_dump(), BOB.record.model_dump()],
    }
    values.update(overrides)
    app = create_app(ApiSettings(**values))
    app.include_router(extra)
    return app


@pytest.fixture
def client(redis_server: RedisServer, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(limited_app(redis_server.url, tmp_path)) as test_client:
        yield test_client


def test_the_request_after_the_limit_gets_429_with_retry_after(client: TestClient) -> None:
    allowed = [client.get("/test-ping") for _ in range(3)]
    refused = client.get("/test-ping")

    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert [r.headers["x-ratelimit-remaining"] for r in allowed] == ["2", "1", "0"]
    assert {r.headers["x-ratelimit-limit"] for r in allowed} == {"3"}
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["retryable"] is True
    assert 19 <= int(refused.headers["retry-after"]) <= 20  # 3 per minute: a token every 20 s
    assert refused.headers["x-ratelimit-remaining"] == "0"


def test_health_and_ready_are_never_limited(
    moto_server: MotoServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    with TestClient(
        limited_app(redis_server.url, tmp_path, rate_limit_burst=1, rate_limit_per_minute=1)
    ) as client:
        statuses = [client.get(path).status_code for path in ["/health", "/ready"] * 5]
        after = client.get("/test-ping")
    assert 429 not in statuses
    assert after.status_code == 200  # the probes took no token


def test_clients_are_limited_separately_by_address(redis_server: RedisServer, tmp_path: Path) -> None:
    app = limited_app(redis_server.url, tmp_path, rate_limit_trusted_proxies=1)
    with TestClient(app) as client:
        one = [client.get("/test-ping", headers={"X-Forwarded-For": "203.0.113.1"}) for _ in range(4)]
        # A spoofed left-most entry does not help: the trusted proxy appended the real address.
        spoofed = client.get("/test-ping", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.1"})
        other = client.get("/test-ping", headers={"X-Forwarded-For": "203.0.113.2"})
    assert [r.status_code for r in one] == [200, 200, 200, 429]
    assert spoofed.status_code == 429
    assert other.status_code == 200


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(client: TestClient) -> None:
    statuses = [
        client.get("/test-ping", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_authenticated_clients_are_limited_by_key_name_wherever_they_call_from(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    app = limited_app(redis_server.url, tmp_path, rate_limit_trusted_proxies=1)
    with TestClient(app) as client:
        alice = [
            client.get(
                "/test-ping", headers={"X-API-Key": ALICE.plaintext, "X-Forwarded-For": f"203.0.113.{i}"}
            )
            for i in range(4)
        ]
        bob = client.get("/test-ping", headers={"Authorization": f"Bearer {BOB.plaintext}"})
        anonymous = client.get("/test-ping", headers={"X-Forwarded-For": "203.0.113.0"})
        # An invalid key is not an identity: its holder counts as its address.
        forged = [
            client.get("/test-ping", headers={"X-API-Key": "avs_forged", "X-Forwarded-For": "203.0.113.9"})
            for _ in range(4)
        ]
    assert [r.status_code for r in alice] == [200, 200, 200, 429]
    assert bob.status_code == 200
    assert anonymous.status_code == 200
    assert [r.status_code for r in forged] == [200, 200, 200, 429]


def test_a_down_redis_still_limits_in_process(tmp_path: Path) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    with TestClient(limited_app(dead_redis, tmp_path)) as client:
        started = time.monotonic()
        with structlog.testing.capture_logs() as logs:
            statuses = [client.get("/test-ping").status_code for _ in range(4)]
        elapsed = time.monotonic() - started
    assert statuses == [200, 200, 200, 429]
    assert elapsed < 2.0
    assert [e["event"] for e in logs].count("limits.degraded") == 1


def test_limiting_can_be_switched_off(redis_server: RedisServer, tmp_path: Path) -> None:
    with TestClient(limited_app(redis_server.url, tmp_path, rate_limit_enabled=False)) as client:
        responses = [client.get("/test-ping") for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert "x-ratelimit-limit" not in responses[-1].headers


def test_limiting_is_on_by_default_with_generous_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVS_RATE_LIMIT_ENABLED", raising=False)  # the suite switches it off
    settings = ApiSettings()
    assert settings.rate_limit_enabled
    assert settings.rate_limit_per_minute >= 60 and settings.rate_limit_burst >= 60
    assert set(settings.rate_limit_exempt_paths) == {"/health", "/ready"}


# --- the limiter adapter: one contract, two implementations ------------------------------


@pytest.fixture(params=["redis", "local"])
async def limits(request: pytest.FixtureRequest, redis_server: RedisServer) -> AsyncIterator[Any]:
    if request.param == "local":
        yield LocalLimits()
        return
    adapter = RedisLimits(redis_server.url, key_prefix=f"t-{uuid.uuid4().hex[:8]}:")
    yield adapter
    await adapter.close()


async def test_a_token_bucket_allows_a_burst_then_one_per_interval(limits: Any) -> None:
    decisions = [await limits.take("c", rate_per_s=2.0, burst=3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 0.3 < decisions[3].retry_after_s <= 0.5
    await asyncio.sleep(decisions[3].retry_after_s + 0.02)
    assert (await limits.take("c", rate_per_s=2.0, burst=3)).allowed
    assert (await limits.take("other", rate_per_s=2.0, burst=3)).allowed


async def test_windows_are_all_or_nothing_and_never_exceeded(limits: Any) -> None:
    windows = [Window(2, 0.5), Window(3, 60.0)]
    first = [await limits.acquire("p", windows) for _ in range(3)]
    assert [d.allowed for d in first] == [True, True, False]
    assert first[0].remaining == 1 and first[1].remaining == 0
    assert 0 < first[2].retry_after_s <= 0.5
    await asyncio.sleep(first[2].retry_after_s + 0.02)
    third = await limits.acquire("p", windows)
    assert third.allowed  # the refused attempt did not count against the minute
    fourth = await limits.acquire("p", windows)
    assert not fourth.allowed and 58 < fourth.retry_after_s <= 60


async def test_a_block_refuses_every_attempt_and_is_only_ever_extended(limits: Any) -> None:
    windows = [Window(100, 1.0)]
    await limits.block("p", 5.0)
    await limits.block("p", 0.1)  # does not shorten
    decision = await limits.acquire("p", windows)
    assert not decision.allowed and decision.blocked
    assert 4 < decision.retry_after_s <= 5
    assert (await limits.acquire("q", windows)).allowed


async def test_redis_limits_are_shared_by_every_instance(redis_server: RedisServer) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    one, two = (
        RedisLimits(redis_server.url, key_prefix=prefix),
        RedisLimits(redis_server.url, key_prefix=prefix),
    )
    try:
        window = [Window(2, 60.0)]
        results = [
            await one.acquire("p", window),
            await two.acquire("p", window),
            await one.acquire("p", window),
        ]
        assert [r.allowed for r in results] == [True, True, False]
        await two.block("jikan", 10)
        assert (await one.acquire("jikan", window)).blocked
    finally:
        await one.close()
        await two.close()


async def test_redis_limits_degrade_fast_and_log_once_when_redis_is_down() -> None:
    adapter = RedisLimits(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        decisions = [await adapter.take("c", rate_per_s=1.0, burst=2) for _ in range(3)]
        await adapter.block("p", 5)
        blocked = await adapter.acquire("p", [Window(5, 1.0)])
    await adapter.close()
    assert [d.allowed for d in decisions] == [True, True, False]
    assert blocked.blocked
    assert adapter.degraded
    assert time.monotonic() - started < 1.0
    assert [e["event"] for e in logs].count("limits.degraded") == 1
