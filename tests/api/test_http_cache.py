"""``avs_api.http_cache``: the Redis response cache, ETags and 304s, against a real redis-server.

A small app with one route per behaviour; its ``compute`` counts its calls, so a
response served from Redis is told apart from a computed one by the body itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from redis.asyncio import Redis

from avs_api.errors import install_error_handlers
from avs_api.http_cache import LocalResponses, cache_key, cached_json, dumps, etag_of, json_response
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.embedded.processes import RedisServer, free_port
from avs_shared.errors import Retryable

DB = 9  # a Redis database of its own, flushed before each test
TTL = 600


@dataclass
class CacheOnly:
    """What ``cached_json`` reads of ``ApiResources``: the cache (here a real RedisCache)."""

    cache: RedisCache


@dataclass
class Backend:
    """What the routes compute from: counts its calls, fails on demand."""

    calls: list[str] = field(default_factory=list)
    fail: bool = False


@dataclass
class Probe:
    client: httpx.AsyncClient
    redis: Redis
    backend: Backend
    local: LocalResponses


def make_app(cache: RedisCache, backend: Backend, local: LocalResponses) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    resources: Any = CacheOnly(cache)

    @app.get("/things")
    async def things(request: Request) -> Response:
        async def compute() -> dict[str, Any]:
            if backend.fail:
                raise Retryable("the backend is down", retry_after_s=3)
            backend.calls.append(str(request.url))
            return {"computed": len(backend.calls), "query": sorted(request.query_params.multi_items())}

        return await cached_json(request, resources, ttl_s=TTL, compute=compute)

    @app.get("/fixed")
    async def fixed(request: Request) -> Response:
        async def compute() -> dict[str, Any]:
            backend.calls.append("fixed")
            return {"ok": True, "name": "固定"}

        return await cached_json(request, resources, ttl_s=TTL, compute=compute)

    @app.get("/local")
    async def in_process(request: Request) -> Response:
        async def compute() -> dict[str, Any]:
            backend.calls.append(str(request.url))
            return {"computed": len(backend.calls)}

        return await cached_json(request, resources, ttl_s=TTL, compute=compute, store=local)

    @app.get("/plain")
    async def plain(request: Request) -> Response:
        return json_response(b'{"raw":1}', request=request, max_age=42)

    return app


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis(host=redis_server.host, port=redis_server.port, db=DB)
    await client.flushdb()
    yield client
    await client.aclose()


async def _probe(redis_url: str, redis: Redis) -> AsyncIterator[Probe]:
    cache = RedisCache(redis_url)
    backend, local = Backend(), LocalResponses()
    transport = httpx.ASGITransport(app=make_app(cache, backend, local))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield Probe(client=client, redis=redis, backend=backend, local=local)
    await cache.close()


@pytest.fixture
async def probe(redis_server: RedisServer, redis: Redis) -> AsyncIterator[Probe]:
    async for p in _probe(f"redis://{redis_server.host}:{redis_server.port}/{DB}", redis):
        yield p


@pytest.fixture
async def probe_without_redis(redis: Redis) -> AsyncIterator[Probe]:
    async for p in _probe(f"redis://127.0.0.1:{free_port()}/0", redis):
        yield p


async def test_a_repeated_request_is_served_from_redis(probe: Probe) -> None:
    first = await probe.client.get("/things?a=1")
    second = await probe.client.get("/things?a=1")

    assert first.status_code == second.status_code == 200
    assert first.json()["computed"] == 1 and second.content == first.content
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert probe.backend.calls == ["http://api/things?a=1"]
    assert await probe.redis.get("resp:v1:/things?a=1") == first.content
    assert TTL - 5 <= await probe.redis.ttl("resp:v1:/things?a=1") <= TTL


@pytest.mark.parametrize(
    ("stored", "equivalent"),
    [
        ("?a=1&b=2", "?b=2&a=1"),
        ("?g=x&g=a&k=1", "?k=1&g=a&g=x"),  # repeated parameters in any order
        ("?a=1", "?a=1&b=&c="),  # empty parameters are dropped
        ("", "?empty="),
    ],
)
async def test_equivalent_queries_share_one_entry(probe: Probe, stored: str, equivalent: str) -> None:
    first = await probe.client.get(f"/things{stored}")
    second = await probe.client.get(f"/things{equivalent}")

    assert second.headers["x-cache"] == "HIT"
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert len(probe.backend.calls) == 1


async def test_different_queries_and_paths_have_their_own_entries(probe: Probe) -> None:
    one = await probe.client.get("/things?a=1")
    two = await probe.client.get("/things?a=2")
    repeated = await probe.client.get("/things?a=1&a=2")

    assert [r.json()["computed"] for r in (one, two, repeated)] == [1, 2, 3]
    assert {k.decode() for k in await probe.redis.keys("*")} == {
        "resp:v1:/things?a=1",
        "resp:v1:/things?a=2",
        "resp:v1:/things?a=1&a=2",
    }


async def test_every_response_has_a_strong_etag_of_its_body_and_cache_control(probe: Probe) -> None:
    miss = await probe.client.get("/fixed")
    hit = await probe.client.get("/fixed")

    for response in (miss, hit):
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == f"public, max-age={TTL}"
        assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])  # strong: no W/
        assert response.headers["etag"] == etag_of(response.content)
    assert miss.json() == {"ok": True, "name": "固定"}


async def test_if_none_match_gives_304_without_a_body_on_a_hit(probe: Probe) -> None:
    etag = (await probe.client.get("/things?a=1")).headers["etag"]

    response = await probe.client.get("/things?a=1", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == f"public, max-age={TTL}"


async def test_if_none_match_gives_304_on_a_miss_too_and_the_body_is_stored(probe: Probe) -> None:
    body = dumps({"ok": True, "name": "固定"})

    response = await probe.client.get("/fixed", headers={"If-None-Match": etag_of(body)})

    assert (response.status_code, response.content, response.headers["x-cache"]) == (304, b"", "MISS")
    assert await probe.redis.get("resp:v1:/fixed?") == body
    assert (await probe.client.get("/fixed")).headers["x-cache"] == "HIT"
    assert probe.backend.calls == ["fixed"]


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("{etag}", 304),
        ('"nope", {etag}', 304),
        ("W/{etag}", 304),  # If-None-Match compares weakly
        ("*", 304),
        ('"nope"', 200),
        ("", 200),
    ],
)
async def test_if_none_match_forms(probe: Probe, header: str, status: int) -> None:
    etag = (await probe.client.get("/fixed")).headers["etag"]

    response = await probe.client.get("/fixed", headers={"If-None-Match": header.format(etag=etag)})

    assert response.status_code == status
    assert response.headers["etag"] == etag


async def test_redis_down_computes_every_time_and_still_answers_200_with_an_etag(
    probe_without_redis: Probe,
) -> None:
    responses = [await probe_without_redis.client.get("/things?a=1") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["computed"] for r in responses] == [1, 2, 3]
    assert all(r.headers["x-cache"] == "MISS" for r in responses)
    assert all(r.headers["etag"] == etag_of(r.content) for r in responses)
    fixed = await probe_without_redis.client.get("/fixed")
    again = await probe_without_redis.client.get("/fixed", headers={"If-None-Match": fixed.headers["etag"]})
    assert (fixed.status_code, again.status_code, again.content) == (200, 304, b"")


async def test_a_failing_compute_is_not_cached(probe: Probe) -> None:
    probe.backend.fail = True
    failed = await probe.client.get("/things?a=1")
    probe.backend.fail = False
    recovered = await probe.client.get("/things?a=1")

    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "unavailable"
    assert "etag" not in failed.headers
    assert (recovered.status_code, recovered.headers["x-cache"]) == (200, "MISS")


async def test_a_very_long_query_is_hashed_into_a_bounded_key(probe: Probe) -> None:
    query = "&".join(f"p{i}={'x' * 20}" for i in range(60))

    first = await probe.client.get(f"/things?{query}")
    second = await probe.client.get(f"/things?{query}")

    keys = [k.decode() for k in await probe.redis.keys("*")]
    assert len(keys) == 1 and keys[0].startswith("resp:v1:/things#") and len(keys[0]) < 120
    assert second.headers["x-cache"] == "HIT" and second.content == first.content


def test_the_key_names_the_namespace_the_path_and_the_sorted_query() -> None:
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/popular",
            "query_string": b"offset=0&limit=5&x=",
            "headers": [],
        }
    )
    assert cache_key(request) == "resp:v1:/popular?limit=5&offset=0"
    assert cache_key(request, "search") == "search:v1:/popular?limit=5&offset=0"


async def test_json_response_serves_bytes_as_they_are_with_etag_and_304(probe: Probe) -> None:
    first = await probe.client.get("/plain")
    second = await probe.client.get("/plain", headers={"If-None-Match": first.headers["etag"]})

    assert first.content == b'{"raw":1}' and first.headers["cache-control"] == "public, max-age=42"
    assert first.headers["etag"] == etag_of(b'{"raw":1}')
    assert second.status_code == 304 and second.content == b""


# ----------------------------------------------------------------------------- in-process store


async def test_a_local_store_serves_repeats_from_this_process_and_writes_nothing_to_redis(
    probe: Probe,
) -> None:
    await _repeats_served_locally(probe)


async def test_a_local_store_serves_repeats_with_redis_down(probe_without_redis: Probe) -> None:
    await _repeats_served_locally(probe_without_redis)


async def _repeats_served_locally(probe: Probe) -> None:
    first = await probe.client.get("/local?q=naruto&limit=5")
    again = await probe.client.get("/local?limit=5&q=naruto")
    other = await probe.client.get("/local?q=bleach")
    tag = {"If-None-Match": first.headers["etag"]}
    revalidated = await probe.client.get("/local?q=naruto&limit=5", headers=tag)

    assert [r.headers["x-cache"] for r in (first, again, other)] == ["MISS", "HIT", "MISS"]
    assert again.content == first.content and first.json() == {"computed": 1}
    assert again.headers["etag"] == first.headers["etag"] == etag_of(first.content)
    assert again.headers["cache-control"] == f"public, max-age={TTL}"
    assert (revalidated.status_code, revalidated.content) == (304, b"")
    assert len(probe.backend.calls) == 2 and len(probe.local) == 2
    assert await probe.redis.keys("*") == []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_local_responses_expire_after_their_ttl() -> None:
    clock = Clock()
    store = LocalResponses(clock=clock)
    await store.set("k", b"body", ttl_s=60)
    clock.now += 59.9
    assert await store.get("k") == b"body"
    clock.now += 0.1
    assert await store.get("k") is None
    assert (len(store), store.size_bytes) == (0, 0)
    await store.set("never", b"x", ttl_s=0)
    assert await store.get("never") is None


async def test_local_responses_are_bounded_in_bytes_least_recently_used_out_first() -> None:
    store = LocalResponses(max_bytes=10)
    await store.set("a", b"aaaa", ttl_s=60)
    await store.set("b", b"bbbb", ttl_s=60)
    assert await store.get("a") == b"aaaa"  # now b is the least recently used
    await store.set("c", b"cccc", ttl_s=60)
    assert (await store.get("a"), await store.get("b"), await store.get("c")) == (b"aaaa", None, b"cccc")
    assert store.size_bytes == 8
    await store.set("a", b"a", ttl_s=60)  # a replaced body is counted once
    assert (store.size_bytes, await store.get("a")) == (5, b"a")
    await store.set("huge", b"h" * 11, ttl_s=60)  # larger than the whole store: not kept
    assert (await store.get("huge"), store.size_bytes, len(store)) == (None, 5, 2)
    store.clear()
    assert (len(store), store.size_bytes) == (0, 0)
    with pytest.raises(ValueError, match="max_bytes"):
        LocalResponses(max_bytes=0)


@pytest.mark.parametrize("size", [0, 1, 2046, 2047, 2048, 4094, 10_001])
def test_the_etag_is_the_sha256_of_the_whole_body_whatever_its_size(size: int) -> None:
    body = bytes(i % 251 for i in range(size))
    assert etag_of(body) == '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
