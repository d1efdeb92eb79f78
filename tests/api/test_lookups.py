"""``GET /anime/{id}`` and ``GET /anime/{id}/similar`` on the real stack.

Real moto (DynamoDB, S3), redis-server and a Qdrant Edge shard per test, seeded with
a handful of entries embedded by the HashingEmbedder (these tests are about caching,
projections, filters and errors, not search quality). The app runs in the test's
event loop (httpx's ASGI transport, the lifespan entered by hand), so a test can
change DynamoDB and Redis behind the API's back and watch what it serves.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from avs_api.app import create_app
from avs_api.bootstrap import ApiResources
from avs_api.search.params import SearchFilters
from avs_api.search.service import similar_to
from avs_api.settings import ApiSettings
from avs_indexer.indexing import embed_points
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.embedding import HashingEmbedder
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.embedded.processes import RedisServer, free_port
from avs_shared.ports.vector import VectorIndex
from avs_shared.schema import AnimeEntry

DB = 8  # a Redis database of its own, flushed before each test


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def entry(
    n: int, title: str, kind: str, year: int, genres: list[str], tags: list[str], **extra: Any
) -> AnimeEntry:
    return AnimeEntry.from_json_dict(
        {
            "id": uid(n),
            "title": title,
            "type": kind,
            "status": "FINISHED",
            "sources": [f"https://myanimelist.net/anime/{n}"],
            "year": year,
            "genres": genres,
            "tags": tags,
            "synopsis": f"{title}: a story.",
            **extra,
        }
    )


def stats(score: float, members: int) -> dict[str, Any]:
    return {"statistics": {"mal": {"score": score, "scored_by": members // 2, "members": members}}}


MECHA = (["Action", "Mecha", "Sci-Fi"], ["giant robots", "space war", "pilots", "military"])
ANCHOR, TWIN, ORPHAN, ROMANCE, SPORTS, OLD_MOVIE = (uid(n) for n in (1, 2, 3, 4, 5, 6))
ENTRIES = [
    entry(1, "Steel Pilots", "TV", 2010, *MECHA, **stats(8.0, 500_000)),
    entry(2, "Steel Pilots Zero", "TV", 2015, *MECHA, **stats(7.5, 200_000)),
    entry(3, "Steel Pilots Lost", "MOVIE", 2012, *MECHA, system_status="ORPHANED", **stats(9.5, 900_000)),
    entry(
        4,
        "Spring Letters",
        "TV",
        2018,
        ["Drama", "Romance"],
        ["school", "love triangle"],
        **stats(8.5, 300_000),
    ),
    entry(5, "Final Lap", "TV", 2020, ["Drama", "Sports"], ["cycling", "rivals"], **stats(8.5, 300_000)),
    entry(
        6, "Desert Blades", "MOVIE", 2005, ["Action", "Adventure"], ["swords", "desert"], **stats(9.0, 400)
    ),
]


@dataclass
class Stack:
    client: httpx.AsyncClient
    entries: DynamoEntryStore
    redis: Redis
    cache: RedisCache  # the adapter the indexer's commit deletes keys with
    resources: ApiResources  # the app's own (for service-level calls)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis(host=redis_server.host, port=redis_server.port, db=DB)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(scope="module")
async def index(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EdgeVectorIndex]:
    """An edge shard holding :data:`ENTRIES`, shared by the module (no test writes to it)."""
    embedder = HashingEmbedder()
    shard = EdgeVectorIndex(tmp_path_factory.mktemp("lookups") / "qdrant-edge" / "anime")
    await shard.ensure_collection(embedder.model_name, embedder.dimension)
    await shard.upsert(await embed_points(embedder, ENTRIES))
    yield shard
    await shard.close()


@pytest.fixture
async def seeded(provisioned: Provisioner, aws: AwsClients) -> None:
    """A fresh moto whose DynamoDB holds :data:`ENTRIES`."""
    await DynamoEntryStore(aws, objects=S3ObjectStore(aws)).batch_put(ENTRIES)


@contextlib.asynccontextmanager
async def api(
    settings: ApiSettings, aws: AwsClients, redis: Redis, index: VectorIndex | None
) -> AsyncIterator[Stack]:
    app = create_app(settings, index=index, embedder=HashingEmbedder())
    cache = RedisCache(settings.redis_url)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api") as c,
    ):
        entries = DynamoEntryStore(aws, objects=S3ObjectStore(aws))
        yield Stack(c, entries, redis, cache, app.state.resources)
    await cache.close()


def api_settings(redis_url: str, data_dir: Path, **extra: Any) -> ApiSettings:
    return ApiSettings(service_name="avs-api-test", redis_url=redis_url, data_dir=data_dir, **extra)


def redis_url(server: RedisServer) -> str:
    return f"redis://{server.host}:{server.port}/{DB}"


@pytest.fixture
async def stack(
    seeded: None,
    index: EdgeVectorIndex,
    aws: AwsClients,
    redis: Redis,
    redis_server: RedisServer,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    """The API over seeded DynamoDB, the shared index and an empty Redis database."""
    async with api(api_settings(redis_url(redis_server), tmp_path), aws, redis, index) as s:
        yield s


@pytest.fixture
async def index_stack(
    index: EdgeVectorIndex, aws: AwsClients, redis: Redis, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    """The same without resetting moto: for tests that never reach DynamoDB (faster)."""
    async with api(api_settings(redis_url(redis_server), tmp_path), aws, redis, index) as s:
        yield s


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    return error


# ----------------------------------------------------------------------------- the whole entry


async def test_the_whole_entry_is_returned_and_cached_under_anime_id(stack: Stack) -> None:
    response = await stack.get(f"/anime/{ANCHOR}")

    assert response.status_code == 200, response.text
    stored = await stack.entries.get(ANCHOR)
    assert stored is not None and response.json() == stored.to_json_dict()
    assert json.loads(await stack.redis.get(f"anime:{ANCHOR}")) == stored.to_json_dict()
    assert 86_400 - 5 <= await stack.redis.ttl(f"anime:{ANCHOR}") <= 86_400
    assert response.headers["cache-control"] == "public, max-age=300"


async def test_a_second_read_is_served_from_redis_until_the_commit_deletes_the_key(stack: Stack) -> None:
    before = await stack.get(f"/anime/{ANCHOR}")
    await stack.entries.update_fields(ANCHOR, {"title": "Steel Pilots (renamed)"})

    cached = await stack.get(f"/anime/{ANCHOR}")
    await stack.cache.delete(f"anime:{ANCHOR}")  # what the indexer's commit does after writing
    fresh = await stack.get(f"/anime/{ANCHOR}")

    assert before.json()["title"] == cached.json()["title"] == "Steel Pilots"
    assert cached.content == before.content and cached.headers["etag"] == before.headers["etag"]
    assert fresh.json()["title"] == "Steel Pilots (renamed)"
    assert fresh.headers["etag"] != before.headers["etag"]
    assert json.loads(await stack.redis.get(f"anime:{ANCHOR}"))["title"] == "Steel Pilots (renamed)"


async def test_a_corrupt_cached_value_is_replaced_from_dynamodb(stack: Stack) -> None:
    await stack.redis.set(f"anime:{ANCHOR}", b"{not json")

    response = await stack.get(f"/anime/{ANCHOR}")

    assert response.status_code == 200 and response.json()["title"] == "Steel Pilots"
    assert json.loads(await stack.redis.get(f"anime:{ANCHOR}"))["id"] == ANCHOR


async def test_if_none_match_gives_304_and_a_changed_entry_a_new_etag(stack: Stack) -> None:
    first = await stack.get(f"/anime/{ANCHOR}")
    etag = first.headers["etag"]

    not_modified = await stack.get(f"/anime/{ANCHOR}", headers={"If-None-Match": etag})
    await stack.entries.update_fields(ANCHOR, {"episodes": 26})
    await stack.cache.delete(f"anime:{ANCHOR}")
    modified = await stack.get(f"/anime/{ANCHOR}", headers={"If-None-Match": etag})

    assert (not_modified.status_code, not_modified.content, not_modified.headers["etag"]) == (304, b"", etag)
    assert modified.status_code == 200 and modified.json()["episodes"] == 26


async def test_an_unknown_id_is_a_404_json_error(stack: Stack) -> None:
    missing = str(uuid.uuid4())
    for path in (f"/anime/{missing}", f"/anime/{missing}?fields=title"):
        response = await stack.get(path)
        assert response.status_code == 404
        error = error_of(response)
        assert error["code"] == "not_found" and missing in error["message"]
    assert await stack.redis.get(f"anime:{missing}") is None


@pytest.mark.parametrize("bad", ["not-a-uuid", "12345", "00000000-0000-4000-8000-00000000000g"])
async def test_an_id_that_is_not_a_uuid_is_a_422_json_error(index_stack: Stack, bad: str) -> None:
    for path in (f"/anime/{bad}", f"/anime/{bad}/similar"):
        response = await index_stack.get(path)
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "invalid_request"
        assert [f["field"] for f in error["fields"]] == ["anime_id"]


# ----------------------------------------------------------------------------- projections


async def test_fields_returns_only_those_paths_read_from_dynamodb(stack: Stack) -> None:
    response = await stack.get(f"/anime/{ANCHOR}?fields=title, genres,statistics.mal.score,title")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": ANCHOR,
        "title": "Steel Pilots",
        "genres": ["Action", "Mecha", "Sci-Fi"],
        "statistics": {"mal": {"score": 8.0}},
    }
    assert response.headers["etag"] and response.headers["cache-control"] == "public, max-age=300"
    assert await stack.redis.get(f"anime:{ANCHOR}") is None  # projections are not cached


async def test_a_projection_is_fresh_while_the_whole_entry_is_still_cached(stack: Stack) -> None:
    await stack.get(f"/anime/{ANCHOR}")
    await stack.entries.update_fields(ANCHOR, {"title": "Renamed"})

    projected = await stack.get(f"/anime/{ANCHOR}?fields=title")
    whole = await stack.get(f"/anime/{ANCHOR}")

    assert projected.json() == {"id": ANCHOR, "title": "Renamed"}
    assert whole.json()["title"] == "Steel Pilots"


async def test_a_projection_supports_if_none_match(stack: Stack) -> None:
    first = await stack.get(f"/anime/{ANCHOR}?fields=title,year")
    again = await stack.get(
        f"/anime/{ANCHOR}?fields=title,year", headers={"If-None-Match": first.headers["etag"]}
    )

    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    "fields",
    [
        "title;DROP",
        "statistics..mal",
        "genres[x]",
        "1title",
        "title,#name",
        ",, ,",
        "_avs_overflow",  # the store's own attributes are not readable
        ",".join(f"f{i}" for i in range(21)),
        "a" * 201,
    ],
)
async def test_invalid_fields_are_a_422_json_error_naming_fields(index_stack: Stack, fields: str) -> None:
    response = await index_stack.get(f"/anime/{ANCHOR}", params={"fields": fields})

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert [f["field"] for f in error["fields"]] == ["fields"]


# ----------------------------------------------------------------------------- similar


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["anime_id"] for item in response.json()["items"]]


async def test_similar_excludes_the_anchor_and_hides_orphans(index_stack: Stack) -> None:
    response = await index_stack.get(f"/anime/{ANCHOR}/similar?limit=50")

    found = ids(response)
    assert ANCHOR not in found and ORPHAN not in found
    assert set(found) == {TWIN, ROMANCE, SPORTS, OLD_MOVIE}
    assert found[0] == TWIN  # same genres and tags, nearly the same text: nearest on both vectors
    body = response.json()
    assert body["anime_id"] == ANCHOR and body["using"] == ["tags", "text"]
    assert body["has_more"] is False and body["sort"] == "relevance"
    first = body["items"][0]
    assert first["title"] == "Steel Pilots Zero" and first["type"] == "TV" and first["year"] == 2015
    assert [item["rank"] for item in body["items"]] == [1, 2, 3, 4]
    scores = [item["relevance"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)


async def test_the_route_is_the_search_services_similar_to(index_stack: Stack) -> None:
    """One implementation: the route answers exactly what the agentic "like X" search runs."""
    for query, filters in [
        ("limit=50", SearchFilters()),
        ("limit=3&genre=Drama", SearchFilters(genres_all=["Drama"])),
        ("limit=50&include_orphaned=true&type=MOVIE", SearchFilters(include_orphaned=True, type=["MOVIE"])),
    ]:
        limit = int(query.split("&")[0].removeprefix("limit="))
        response = await index_stack.get(f"/anime/{ANCHOR}/similar?{query}")
        served = await similar_to(index_stack.resources, ANCHOR, filters, limit=limit)

        assert response.json() == served.model_dump(mode="json"), query


async def test_similar_fuses_the_tags_and_text_neighbours(index_stack: Stack) -> None:
    fused = await similar_to(index_stack.resources, ANCHOR, SearchFilters(), limit=50)
    by_tags = await similar_to(index_stack.resources, ANCHOR, SearchFilters(), limit=50, vectors=("tags",))
    by_text = await similar_to(index_stack.resources, ANCHOR, SearchFilters(), limit=50, vectors=("text",))

    assert (fused.using, by_tags.using, by_text.using) == (["tags", "text"], ["tags"], ["text"])
    assert (
        {i.anime_id for i in fused.items}
        == {i.anime_id for i in by_tags.items}
        == {TWIN, ROMANCE, SPORTS, OLD_MOVIE}
    )
    # RRF: the fused relevance sums reciprocal ranks, it is not the cosine similarity of one vector.
    assert fused.items[0].relevance != by_tags.items[0].relevance
    assert fused.items[0].anime_id == by_tags.items[0].anime_id == by_text.items[0].anime_id == TWIN


async def test_similar_shows_orphans_when_asked(index_stack: Stack) -> None:
    found = ids(await index_stack.get(f"/anime/{ANCHOR}/similar?limit=50&include_orphaned=true"))

    assert ORPHAN in found and ANCHOR not in found
    assert set(found[:2]) == {TWIN, ORPHAN}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=MOVIE", {OLD_MOVIE}),
        ("type=MOVIE&include_orphaned=true", {OLD_MOVIE, ORPHAN}),
        ("type=MOVIE&type=TV", {TWIN, ROMANCE, SPORTS, OLD_MOVIE}),
        ("genre=Drama", {ROMANCE, SPORTS}),
        ("genre=drama", {ROMANCE, SPORTS}),  # genres match the catalogue's spelling in any case
        ("genre=Drama&genre=Sports", {SPORTS}),
        ("genre_any=Sports&genre_any=Adventure", {SPORTS, OLD_MOVIE}),
        ("genre_not=Drama", {TWIN, OLD_MOVIE}),
        ("tag=cycling", {SPORTS}),
        ("year_from=2012&year_to=2018", {TWIN, ROMANCE}),
        ("year_from=2016", {ROMANCE, SPORTS}),
        ("year_to=2010", {OLD_MOVIE}),
        ("year=2015", {TWIN}),
        ("genre=Action&type=TV", {TWIN}),
        ("genre=Nonexistent", set()),
    ],
)
async def test_similar_respects_filters(index_stack: Stack, query: str, expected: set[str]) -> None:
    assert set(ids(await index_stack.get(f"/anime/{ANCHOR}/similar?limit=50&{query}"))) == expected


async def test_similar_respects_the_limit(index_stack: Stack) -> None:
    one = (await index_stack.get(f"/anime/{ANCHOR}/similar?limit=1")).json()
    three = (await index_stack.get(f"/anime/{ANCHOR}/similar?limit=3")).json()

    assert [i["anime_id"] for i in one["items"]] == [TWIN] and one["has_more"] is True
    assert [i["anime_id"] for i in three["items"]][:1] == [TWIN] and len(three["items"]) == 3
    assert three["has_more"] is True


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=51", "limit"),
        ("type=SERIES", "type.0"),
        ("year_from=2020&year_to=2010", "year_to"),
        ("year_from=abc", "year_from"),
        ("genre=%20", "genre.0"),
        ("genres=Drama", "genres"),  # a typo is an error, not an unfiltered answer
    ],
)
async def test_similar_rejects_bad_parameters_with_a_422(index_stack: Stack, query: str, field: str) -> None:
    response = await index_stack.get(f"/anime/{ANCHOR}/similar?{query}")

    assert response.status_code == 422
    assert [f["field"] for f in error_of(response)["fields"]] == [field]


async def test_similar_of_an_unknown_anime_is_a_404_json_error(index_stack: Stack) -> None:
    missing = str(uuid.uuid4())

    response = await index_stack.get(f"/anime/{missing}/similar")

    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found" and missing in error["message"]


async def test_similar_responses_are_cached_by_normalised_query_with_etags(index_stack: Stack) -> None:
    first = await index_stack.get(f"/anime/{ANCHOR}/similar?limit=5&genre=Drama")
    second = await index_stack.get(f"/anime/{ANCHOR}/similar?genre=Drama&limit=5")
    not_modified = await index_stack.get(
        f"/anime/{ANCHOR}/similar?genre=Drama&limit=5", headers={"If-None-Match": first.headers["etag"]}
    )

    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert second.content == first.content
    assert first.headers["cache-control"] == "public, max-age=900"
    assert (
        await index_stack.redis.get(f"resp:v1:/anime/{ANCHOR}/similar?genre=Drama&limit=5") == first.content
    )
    assert not_modified.status_code == 304


# ----------------------------------------------------------------------------- degraded dependencies


async def test_with_redis_down_lookups_and_similar_still_answer_200(
    seeded: None, index: EdgeVectorIndex, aws: AwsClients, redis: Redis, tmp_path: Path
) -> None:
    settings = api_settings(f"redis://127.0.0.1:{free_port()}/0", tmp_path)
    async with api(settings, aws, redis, index) as stack:
        responses = [
            await stack.get(f"/anime/{ANCHOR}"),
            await stack.get(f"/anime/{ANCHOR}"),
            await stack.get(f"/anime/{ANCHOR}?fields=title"),
            await stack.get(f"/anime/{ANCHOR}/similar"),
            await stack.get(f"/anime/{ANCHOR}/similar"),
        ]
        missing = await stack.get(f"/anime/{uuid.uuid4()}")
        etag = responses[0].headers["etag"]
        not_modified = await stack.get(f"/anime/{ANCHOR}", headers={"If-None-Match": etag})

    assert [r.status_code for r in responses] == [200] * 5
    assert all(r.headers["etag"] for r in responses)
    assert responses[0].content == responses[1].content
    assert responses[0].json()["title"] == "Steel Pilots"
    assert ids(responses[3])[0] == TWIN and responses[4].headers["x-cache"] == "MISS"
    assert missing.status_code == 404 and not_modified.status_code == 304


async def test_with_the_vector_index_down_similar_is_503_but_lookups_work(
    seeded: None, aws: AwsClients, redis: Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = api_settings(
        redis_url(redis_server),
        tmp_path,
        qdrant_url=f"http://127.0.0.1:{free_port()}",
    )
    async with api(settings, aws, redis, index=None) as stack:
        similar = await stack.get(f"/anime/{ANCHOR}/similar")
        lookup = await stack.get(f"/anime/{ANCHOR}")
        projected = await stack.get(f"/anime/{ANCHOR}?fields=title")

    assert similar.status_code == 503
    error = error_of(similar)
    assert error["code"] == "unavailable" and error["retryable"] is True
    assert int(similar.headers["retry-after"]) >= 1
    assert await redis.keys("resp:*") == []  # the error was not cached
    assert lookup.status_code == 200 and lookup.json()["id"] == ANCHOR
    assert projected.status_code == 200 and projected.json() == {"id": ANCHOR, "title": "Steel Pilots"}
