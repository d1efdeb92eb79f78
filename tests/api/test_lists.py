"""``GET /popular``, ``GET /top-rated`` and the ``curated-lists-refresh`` job on the real stack.

The lists are read from the vector payload only, so these tests need a Qdrant Edge
shard (a new one per test, points embedded by the HashingEmbedder) and redis-server;
moto only backs the runner context of the cron job.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from avs_api.app import create_app
from avs_api.jobs import cron_jobs
from avs_api.lists import ListConfig, ListKind, compute_list
from avs_api.settings import ApiSettings
from avs_cli.registry import bootstrap_module, service_cron_jobs
from avs_indexer.indexing import embed_points
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.embedding import HashingEmbedder
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.embedded.processes import RedisServer, free_port
from avs_shared.ports.vector import VectorIndex
from avs_shared.runtime import build_runtime
from avs_shared.runtime.context import RunContext
from avs_shared.schema import AnimeEntry
from avs_shared.topology import S_CURATED_LISTS

DB = 10  # a Redis database of its own, flushed before each test
LIST_TTL = 36 * 3600


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def entry(n: int, title: str, *, mal_score: float | None, members: int | None, **extra: Any) -> AnimeEntry:
    stats: dict[str, Any] = {}
    if mal_score is not None or members is not None:
        stats = {"mal": {"score": mal_score, "members": members}}
    return AnimeEntry.from_json_dict(
        {
            "id": uid(n),
            "title": title,
            "type": "TV",
            "status": "FINISHED",
            "sources": [f"https://myanimelist.net/anime/{n}"],
            "year": 2000 + n,
            "genres": ["Drama"],
            "statistics": stats,
            **extra,
        }
    )


# Ties are chosen so that the secondary order disagrees with the id order.
ENTRIES = [
    entry(1, "Quiet Forest", mal_score=8.0, members=200_000),
    entry(2, "Spring Letters", mal_score=8.5, members=300_000),
    entry(3, "Final Lap", mal_score=8.6, members=300_000),  # popular: ties E2, wins on score
    entry(4, "Sky Pirates", mal_score=8.0, members=500_000),  # top-rated: ties E1, wins on popularity
    entry(5, "Old Relic", mal_score=9.5, members=900_000, system_status="ORPHANED"),
    entry(6, "Tiny Gem", mal_score=9.0, members=400),  # under the top-rated popularity floor
    entry(7, "Unscored", mal_score=None, members=50_000),  # in no top-rated list
    entry(
        8,
        "Unknown Reach",  # no statistics: popularity 0 (never popular), score from the aggregate
        mal_score=None,
        members=None,
        score={"arithmetic_geometric_mean": 6.0, "arithmetic_mean": 6.0, "median": 6.0},
    ),
    entry(9, "Quiet Forest II", mal_score=8.0, members=200_000),  # ties E1 on everything: id decides
]
POPULAR = [uid(n) for n in (4, 3, 2, 1, 9, 7, 6)]
TOP_RATED = [uid(n) for n in (3, 2, 4, 1, 9)]


@dataclass
class Stack:
    client: httpx.AsyncClient
    redis: Redis
    index: EdgeVectorIndex

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis(host=redis_server.host, port=redis_server.port, db=DB)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return f"redis://{redis_server.host}:{redis_server.port}/{DB}"


async def seeded_shard(data_dir: Path) -> EdgeVectorIndex:
    embedder = HashingEmbedder()
    shard = EdgeVectorIndex(data_dir / "qdrant-edge" / "anime")
    await shard.ensure_collection(embedder.model_name, embedder.dimension)
    await shard.upsert(await embed_points(embedder, ENTRIES))
    return shard


@pytest.fixture(scope="module")
async def index(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EdgeVectorIndex]:
    """A shard holding :data:`ENTRIES`, shared by the tests that only read it (creating one
    takes seconds)."""
    shard = await seeded_shard(tmp_path_factory.mktemp("lists"))
    yield shard
    await shard.close()


@pytest.fixture
async def own_index(tmp_path: Path) -> AsyncIterator[EdgeVectorIndex]:
    """A shard of the test's own, for a test that writes to it."""
    shard = await seeded_shard(tmp_path)
    yield shard
    await shard.close()


def api_settings(redis_url: str, data_dir: Path, **extra: Any) -> ApiSettings:
    return ApiSettings(service_name="avs-api-test", redis_url=redis_url, data_dir=data_dir, **extra)


@contextlib.asynccontextmanager
async def api(
    settings: ApiSettings, redis: Redis, index: EdgeVectorIndex, *, app_index: bool = True
) -> AsyncIterator[Stack]:
    app = create_app(settings, index=index if app_index else None, embedder=HashingEmbedder())
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api") as c,
    ):
        yield Stack(c, redis, index)


@pytest.fixture
async def stack(redis_url: str, redis: Redis, index: EdgeVectorIndex, tmp_path: Path) -> AsyncIterator[Stack]:
    async with api(api_settings(redis_url, tmp_path), redis, index) as s:
        yield s


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@contextlib.asynccontextmanager
async def run_context(
    aws: AwsClients, settings: ApiSettings, index: VectorIndex
) -> AsyncIterator[RunContext]:
    """A runner context whose shared index and embedder are this test's."""
    publisher, idempotency, claim_check = await build_runtime(aws, settings)
    async with contextlib.AsyncExitStack() as resources:
        yield RunContext(
            settings=settings,
            aws=aws,
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
            data_dir=settings.data_dir,
            resources=resources,
            components={"vector-index": index, "embedder": HashingEmbedder()},
        )


# ----------------------------------------------------------------------------- orders


async def test_popular_is_by_popularity_then_score_then_id_without_unknown_popularity(stack: Stack) -> None:
    response = await stack.get("/popular?limit=100")

    assert ids(response) == POPULAR
    body = response.json()
    assert [item["rank"] for item in body["items"]] == list(range(1, len(POPULAR) + 1))
    assert (body["list"], body["total"], body["next_offset"], body["include_orphaned"]) == (
        "popular",
        len(POPULAR),
        None,
        False,
    )
    first = body["items"][0]
    assert first["title"] == "Sky Pirates" and first["popularity"] == 500_000 and first["score"] == 8.0


async def test_top_rated_is_by_score_then_popularity_then_id_above_the_popularity_floor(stack: Stack) -> None:
    response = await stack.get("/top-rated?limit=100")

    assert ids(response) == TOP_RATED
    scores = [item["score"] for item in response.json()["items"]]
    assert scores == [8.6, 8.5, 8.0, 8.0, 8.0]


async def test_orphans_are_listed_only_when_asked(stack: Stack) -> None:
    orphan = uid(5)

    assert ids(await stack.get("/popular?limit=100&include_orphaned=true")) == [orphan, *POPULAR]
    assert ids(await stack.get("/top-rated?limit=100&include_orphaned=true")) == [orphan, *TOP_RATED]
    orphaned = (await stack.get("/popular?limit=1&include_orphaned=true")).json()["items"][0]
    assert orphaned["system_status"] == "ORPHANED"


async def test_the_top_rated_floor_is_a_setting(
    redis_url: str, redis: Redis, index: EdgeVectorIndex, tmp_path: Path
) -> None:
    async with api(api_settings(redis_url, tmp_path, top_rated_min_popularity=0), redis, index) as stack:
        found = ids(await stack.get("/top-rated?limit=100"))

    assert found == [uid(6), *TOP_RATED, uid(8)]


async def test_pages_carry_ranks_and_the_next_offset(stack: Stack) -> None:
    page = (await stack.get("/popular?limit=2&offset=1")).json()
    last = (await stack.get("/popular?limit=5&offset=5")).json()
    beyond = (await stack.get("/popular?limit=5&offset=50")).json()

    assert [(i["rank"], i["id"]) for i in page["items"]] == [(2, POPULAR[1]), (3, POPULAR[2])]
    assert (page["limit"], page["offset"], page["next_offset"], page["total"]) == (2, 1, 3, len(POPULAR))
    assert [i["id"] for i in last["items"]] == POPULAR[5:] and last["next_offset"] is None
    assert beyond["items"] == [] and beyond["next_offset"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
        ("include_orphaned=maybe", "include_orphaned"),
    ],
)
async def test_bad_parameters_are_a_422_json_error(stack: Stack, query: str, field: str) -> None:
    for path in ("/popular", "/top-rated"):
        response = await stack.get(f"{path}?{query}")
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and [f["field"] for f in error["fields"]] == [field]


# ----------------------------------------------------------------------------- precomputed lists


async def test_a_missing_list_is_computed_on_demand_and_stored(stack: Stack) -> None:
    assert await stack.redis.get("curated:popular:active") is None

    response = await stack.get("/popular?limit=3")

    assert ids(response) == POPULAR[:3]
    stored = json.loads(await stack.redis.get("curated:popular:active"))
    assert [item["id"] for item in stored["items"]] == POPULAR  # the whole list, not the page
    assert LIST_TTL - 5 <= await stack.redis.ttl("curated:popular:active") <= LIST_TTL
    assert await stack.redis.get("curated:top-rated:active") is None  # only what was asked for


async def test_an_empty_list_is_kept_only_briefly(redis_url: str, redis: Redis, tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    empty = EdgeVectorIndex(tmp_path / "empty" / "anime")
    await empty.ensure_collection(embedder.model_name, embedder.dimension)
    try:
        async with api(api_settings(redis_url, tmp_path), redis, empty) as stack:
            response = await stack.get("/popular")
    finally:
        await empty.close()

    assert response.status_code == 200 and response.json()["items"] == [] and response.json()["total"] == 0
    assert 0 < await redis.ttl("curated:popular:active") <= 300  # a catalogue loaded next shows up soon


async def test_the_refresh_job_writes_every_list_and_the_api_serves_them(
    aws: AwsClients, redis_url: str, redis: Redis, own_index: EdgeVectorIndex, tmp_path: Path
) -> None:
    index = own_index
    settings = api_settings(redis_url, tmp_path)
    due = datetime(2026, 1, 3, 12, 0, tzinfo=UTC)
    async with run_context(aws, settings, index) as ctx:
        jobs = cron_jobs(ctx)
        assert set(jobs) == {S_CURATED_LISTS}
        written = await jobs[S_CURATED_LISTS](due)

    keys = [
        "curated:popular:active",
        "curated:popular:all",
        "curated:top-rated:active",
        "curated:top-rated:all",
    ]
    assert written == dict(zip(keys, [7, 8, 5, 6], strict=True))
    generated = set()
    for key in keys:
        doc = json.loads(await redis.get(key))
        generated.add(doc["generated_at"])
        assert LIST_TTL - 5 <= await redis.ttl(key) <= LIST_TTL
    (generated_at,) = generated  # one run, one timestamp: when it ran
    assert abs(datetime.fromisoformat(generated_at) - datetime.now(UTC)) < timedelta(minutes=1)
    stored = json.loads(await redis.get("curated:top-rated:active"))
    expected = await compute_list(index, ListKind.TOP_RATED, include_orphaned=False, config=ListConfig())
    assert stored["items"] == expected["items"]

    # A new, very popular anime appears in the index: the API keeps serving the stored list...
    newcomer = entry(20, "Newcomer", mal_score=9.9, members=5_000_000)
    await index.upsert(await embed_points(HashingEmbedder(), [newcomer]))
    async with api(settings, redis, index) as stack:
        served = await stack.get("/popular?limit=100")
        await redis.delete("curated:popular:active")  # ...until the stored list is gone
        recomputed = await stack.get("/popular?limit=50")
    assert ids(served) == POPULAR
    assert served.json()["generated_at"] == generated_at
    assert ids(recomputed) == [newcomer.id, *POPULAR]


async def test_the_all_in_one_runner_registers_the_job_from_the_api_bootstrap(
    aws: AwsClients, redis_url: str, index: EdgeVectorIndex, tmp_path: Path
) -> None:
    module = bootstrap_module("api")
    assert module is not None
    async with run_context(aws, api_settings(redis_url, tmp_path), index) as ctx:
        jobs = service_cron_jobs(ctx)  # also checks the names are in the catalogue
        own = cron_jobs(ctx)
        assert S_CURATED_LISTS in jobs and set(own) <= set(module.cron_jobs(ctx))


async def test_list_pages_go_through_the_response_cache_with_etags(stack: Stack) -> None:
    first = await stack.get("/top-rated?limit=2&offset=0")
    second = await stack.get("/top-rated?offset=0&limit=2")
    not_modified = await stack.get(
        "/top-rated?limit=2&offset=0", headers={"If-None-Match": first.headers["etag"]}
    )

    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert second.content == first.content
    assert first.headers["cache-control"] == "public, max-age=600"
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert await stack.redis.get("resp:v1:/top-rated?limit=2&offset=0") == first.content


# ----------------------------------------------------------------------------- degraded dependencies


async def test_with_redis_down_lists_are_computed_on_every_request(
    redis: Redis, index: EdgeVectorIndex, tmp_path: Path
) -> None:
    settings = api_settings(f"redis://127.0.0.1:{free_port()}/0", tmp_path)
    async with api(settings, redis, index) as stack:
        responses = [await stack.get(p) for p in ("/popular", "/popular", "/top-rated", "/top-rated")]

    assert [r.status_code for r in responses] == [200] * 4
    assert all(r.headers["etag"] and r.headers["x-cache"] == "MISS" for r in responses)
    assert ids(responses[1]) == POPULAR and ids(responses[3]) == TOP_RATED


async def test_with_the_index_down_a_stored_list_is_served_and_a_missing_one_is_503(
    aws: AwsClients, redis_url: str, redis: Redis, index: EdgeVectorIndex, tmp_path: Path
) -> None:
    await redis.set(
        "curated:popular:active",
        json.dumps(await compute_list(index, ListKind.POPULAR, include_orphaned=False, config=ListConfig())),
    )
    settings = api_settings(redis_url, tmp_path, qdrant_url=f"http://127.0.0.1:{free_port()}")
    async with api(settings, redis, index, app_index=False) as stack:
        popular = await stack.get("/popular")
        top_rated = await stack.get("/top-rated")

    assert ids(popular) == POPULAR
    assert top_rated.status_code == 503
    error = top_rated.json()["error"]
    assert error["code"] == "unavailable" and error["retryable"] is True
