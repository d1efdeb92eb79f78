"""RedisCache against the real redis-server, and its behaviour while Redis is down."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
from redis.asyncio import Redis

from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.embedded.processes import RedisServer, free_port
from avs_shared.ports.storage import Cache


@pytest.fixture
async def cache(redis_server: RedisServer) -> AsyncIterator[RedisCache]:
    c = RedisCache(redis_server.url, key_prefix=f"test-{uuid.uuid4().hex[:8]}:")
    yield c
    await c.close()


async def test_set_get_delete_round_trip(cache: RedisCache) -> None:
    port: Cache = cache
    assert await port.get("anime:1") is None
    await port.set("anime:1", b'{"title": "Bebop"}', ttl_s=60)
    await port.set("anime:2", b"two", ttl_s=60)

    assert await port.get("anime:1") == b'{"title": "Bebop"}'
    await port.delete("anime:1", "anime:2")
    assert await port.get("anime:1") is None
    assert await port.get("anime:2") is None


async def test_set_applies_the_ttl_and_the_key_prefix(redis_server: RedisServer) -> None:
    cache = RedisCache(redis_server.url, key_prefix="pfx:")
    raw = Redis.from_url(redis_server.url)
    try:
        await cache.set("anime:9", b"v", ttl_s=120)
        assert await raw.get("pfx:anime:9") == b"v"
        assert 100 < await raw.ttl("pfx:anime:9") <= 120
    finally:
        await raw.delete("pfx:anime:9")
        await raw.aclose()
        await cache.close()


async def test_a_down_redis_is_an_empty_cache_that_never_raises_or_hangs() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)  # nothing listens there
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        assert await cache.get("anime:1") is None
        await cache.set("anime:1", b"v", ttl_s=60)
        await cache.delete("anime:1")
        assert await cache.get("anime:1") is None
    assert time.monotonic() - started < 1.0
    assert not cache.available
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["cache.unavailable"]
    assert await cache.ping() is False
    await cache.close()


async def test_an_unreachable_host_costs_at_most_the_socket_timeout() -> None:
    # A non-routable address: the connect either fails at once or times out after 0.2 s.
    cache = RedisCache("redis://10.255.255.1:6379/0", timeout_s=0.2)
    started = time.monotonic()
    assert await cache.get("anime:1") is None
    await cache.set("anime:1", b"v", ttl_s=60)
    assert time.monotonic() - started < 1.5
    await cache.close()


async def test_the_cache_recovers_when_redis_comes_back(tmp_path: Path) -> None:
    port = free_port()
    cache = RedisCache(f"redis://127.0.0.1:{port}/0", timeout_s=0.2, down_for_s=0.0)
    await cache.set("k", b"v", ttl_s=60)  # down: dropped
    server = RedisServer(tmp_path, port=port, persist=False)
    server.start()
    try:
        with structlog.testing.capture_logs() as logs:
            await cache.set("k", b"v", ttl_s=60)
            assert await cache.get("k") == b"v"
        assert cache.available
        assert "cache.recovered" in [e["event"] for e in logs]
    finally:
        await cache.close()
        server.stop()
