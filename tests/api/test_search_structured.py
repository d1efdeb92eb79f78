"""``GET /search/structured`` on the 64-anime sample: filters, sorts, pages, facets, errors.

Expected results are computed from the indexer's own payload of each sample entry
(``entry_payload``), independently of the search code.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from avs_api.app import create_app
from avs_api.settings import ApiSettings
from avs_shared.adapters.embedding import MiniLMEmbedder
from avs_shared.embedded.processes import RedisServer, free_port
from avs_shared.ports.vector import VectorPoint

PATH = "/search/structured"
Payload = dict[str, Any]
Params = list[tuple[str, Any]]


def ids_of(pages: list[dict[str, Any]]) -> list[str]:
    return [item["anime_id"] for page in pages for item in page["items"]]


def matching(api: Any, predicate: Callable[[Payload], bool]) -> set[str]:
    return {pid for pid, p in api.stack.payloads.items() if predicate(p)}


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def expected_order(payloads: dict[str, Payload], ids: set[str], sort: str, order: str) -> list[str]:
    """Values then id; anime without the value last, by id (the documented total order)."""
    if sort == "title":
        keyed = sorted(ids, key=lambda i: (fold(payloads[i]["title"]), i))
        return keyed if order == "asc" else keyed[::-1]
    present = [i for i in ids if payloads[i].get(sort) is not None]
    absent = sorted(i for i in ids if payloads[i].get(sort) is None)
    sign = 1 if order == "asc" else -1
    return sorted(present, key=lambda i: (sign * payloads[i][sort], i)) + absent


# ----------------------------------------------------------------------------- the default


async def test_the_default_lists_active_anime_by_popularity_with_total_and_list_fields(
    search_api: Any,
) -> None:
    body = await search_api.ok(PATH)
    payloads = search_api.stack.payloads
    assert body["total"] == 64
    assert (body["sort"], body["order"], body["limit"], body["page"]) == ("popularity", "desc", 20, 1)
    assert body["has_more"] is True and body["next_cursor"]
    assert [i["anime_id"] for i in body["items"]] == expected_order(
        payloads, set(payloads), "popularity", "desc"
    )[:20]
    first = body["items"][0]
    source = payloads[first["anime_id"]]
    for field in ("title", "title_english", "title_japanese", "type", "status", "year", "season", "episodes"):
        assert first[field] == source.get(field), field
    assert first["score"] == source["score"] and first["popularity"] == source["popularity"]
    assert first["genres"] == source["genres"] and first["image"] == source.get("image")
    assert first["relevance"] is None and first["rank"] is None
    assert body["facets"] is None


# ----------------------------------------------------------------------------- every filter


def _has_all(field: str, *values: str) -> Callable[[Payload], bool]:
    return lambda p: all(v in p.get(field, []) for v in values)


def _has_any(field: str, *values: str) -> Callable[[Payload], bool]:
    return lambda p: any(v in p.get(field, []) for v in values)


FILTER_CASES: list[tuple[str, Params, Callable[[Payload], bool]]] = [
    ("genre all", [("genre", "Action"), ("genre", "Drama")], _has_all("genres", "Action", "Drama")),
    ("genre any case", [("genre", "sci-fi")], _has_all("genres", "Sci-Fi")),
    (
        "genre_any",
        [("genre_any", "Comedy"), ("genre_any", "Romance")],
        _has_any("genres", "Comedy", "Romance"),
    ),
    (
        "genre_not",
        [("genre_not", "Action"), ("genre_not", "Drama")],
        lambda p: not _has_any("genres", "Action", "Drama")(p),
    ),
    ("tag all", [("tag", "High School")], _has_all("tags", "high school")),
    ("tag_any", [("tag_any", "mecha"), ("tag_any", "cyberpunk")], _has_any("tags", "mecha", "cyberpunk")),
    ("tag_not", [("tag_not", "high school")], lambda p: "high school" not in p.get("tags", [])),
    ("year", [("year", 2016)], lambda p: p.get("year") == 2016),
    ("year range", [("year_from", 1995), ("year_to", 2004)], lambda p: 1995 <= p.get("year", 0) <= 2004),
    ("year_from only", [("year_from", 2020)], lambda p: p.get("year", 0) >= 2020),
    ("season", [("season", "fall")], lambda p: p.get("season") == "FALL"),
    ("type any", [("type", "MOVIE"), ("type", "ova")], lambda p: p["type"] in ("MOVIE", "OVA")),
    ("status", [("status", "ONGOING")], lambda p: p["status"] == "ONGOING"),
    (
        "episodes range",
        [("episodes_min", 12), ("episodes_max", 13)],
        lambda p: 12 <= p.get("episodes", -1) <= 13,
    ),
    ("episodes_min", [("episodes_min", 100)], lambda p: p.get("episodes", 0) >= 100),
    ("score_min", [("score_min", 8.75)], lambda p: p.get("score", 0) >= 8.75),
    (
        "studio any",
        [("studio", "Madhouse"), ("studio", "Studio Ghibli")],
        _has_any("studios", "Madhouse", "Studio Ghibli"),
    ),
    ("nsfw false", [("nsfw", "false")], lambda p: p.get("nsfw") is False),
    ("nsfw true", [("nsfw", "true")], lambda p: p.get("nsfw") is True),
    ("rating by code", [("rating", "pg-13")], lambda p: p.get("rating") == "PG-13 - Teens 13 or older"),
    (
        "rating codes",
        [("rating", "R"), ("rating", "R+")],
        lambda p: p.get("rating", "").split(" - ")[0] in ("R", "R+"),
    ),
    ("rating full text", [("rating", "PG - Children")], lambda p: p.get("rating") == "PG - Children"),
    (
        "combined",
        [
            ("genre", "Action"),
            ("year_from", 2000),
            ("type", "TV"),
            ("score_min", 8.0),
            ("genre_not", "Comedy"),
        ],
        lambda p: (
            "Action" in p["genres"]
            and p.get("year", 0) >= 2000
            and p["type"] == "TV"
            and p.get("score", 0) >= 8.0
            and "Comedy" not in p["genres"]
        ),
    ),
]


@pytest.mark.parametrize(
    ("params", "predicate"), [c[1:] for c in FILTER_CASES], ids=[c[0] for c in FILTER_CASES]
)
async def test_every_filter_returns_exactly_the_matching_anime(
    search_api: Any, params: Params, predicate: Callable[[Payload], bool]
) -> None:
    expected = matching(search_api, predicate)
    body = await search_api.ok(PATH, [*params, ("limit", 100)])
    got = [item["anime_id"] for item in body["items"]]
    assert set(got) == expected and len(got) == len(expected)
    assert body["total"] == len(expected) and body["has_more"] is False
    if params != [("nsfw", "true")]:  # the sample has no adult entries
        assert expected, "a filter case that matches nothing proves little"


async def test_filters_that_contradict_match_nothing(search_api: Any) -> None:
    body = await search_api.ok(PATH, [("genre", "Action"), ("genre_not", "Action")])
    assert (body["items"], body["total"], body["has_more"], body["next_cursor"]) == ([], 0, False, None)


# ----------------------------------------------------------------------------- every sort


SORTS = [
    ("popularity", "desc"),
    ("popularity", "asc"),
    ("score", "desc"),
    ("score", "asc"),
    ("year", "desc"),
    ("year", "asc"),
    ("title", "asc"),
    ("title", "desc"),
]


@pytest.mark.parametrize(("sort", "order"), SORTS)
async def test_every_sort_orders_by_its_value_then_id(search_api: Any, sort: str, order: str) -> None:
    payloads = search_api.stack.payloads
    body = await search_api.ok(PATH, [("sort", sort), ("order", order), ("limit", 100)])
    assert [i["anime_id"] for i in body["items"]] == expected_order(payloads, set(payloads), sort, order)
    assert (body["sort"], body["order"]) == (sort, order)


async def test_each_sort_has_its_natural_default_order(search_api: Any) -> None:
    for sort, order in (("popularity", "desc"), ("score", "desc"), ("year", "desc"), ("title", "asc")):
        body = await search_api.ok(PATH, [("sort", sort), ("limit", 1)])
        assert body["order"] == order


async def test_relevance_without_a_query_falls_back_to_popularity(search_api: Any) -> None:
    relevance = await search_api.ok(PATH, [("sort", "relevance"), ("genre", "Drama")])
    popularity = await search_api.ok(PATH, [("sort", "popularity"), ("genre", "Drama")])
    assert relevance["sort"] == "popularity"
    assert relevance["items"] == popularity["items"]


# ----------------------------------------------------------------------------- pagination


WALKS: list[tuple[Params, Callable[[Payload], bool]]] = [
    ([], lambda p: True),
    ([("genre", "Action")], _has_all("genres", "Action")),
    ([("year_from", 1990), ("year_to", 2015)], lambda p: 1990 <= p["year"] <= 2015),
    ([("type", "TV"), ("genre_not", "Comedy")], lambda p: p["type"] == "TV" and "Comedy" not in p["genres"]),
]


@pytest.mark.parametrize("sort", ["popularity", "year", "score", "title"])
@pytest.mark.parametrize("walk_index", range(len(WALKS)))
async def test_walking_all_pages_visits_every_match_exactly_once(
    search_api: Any, sort: str, walk_index: int
) -> None:
    params, predicate = WALKS[walk_index]
    expected = matching(search_api, predicate)
    order = "asc" if sort == "year" else None  # year has tie groups of up to 6 anime
    query = [*params, ("sort", sort), ("limit", 7), *([("order", order)] if order else [])]
    by_cursor = await search_api.walk(PATH, query)
    by_page = await search_api.walk(PATH, query, by="page")
    walked = ids_of(by_cursor)
    assert len(walked) == len(set(walked)) == len(expected)
    assert set(walked) == expected
    assert walked == ids_of(by_page)
    assert walked == expected_order(
        search_api.stack.payloads, expected, sort, order or ("asc" if sort == "title" else "desc")
    )
    assert all(len(p["items"]) == 7 for p in by_cursor[:-1]) and 1 <= len(by_cursor[-1]["items"]) <= 7
    assert all(p["total"] == len(expected) for p in by_cursor)


async def test_a_page_past_the_end_is_empty_and_has_no_more(search_api: Any) -> None:
    body = await search_api.ok(PATH, [("limit", 50), ("page", 3)])
    assert (body["items"], body["has_more"], body["next_cursor"], body["total"]) == ([], False, None, 64)
    exact = await search_api.ok(PATH, [("limit", 32), ("page", 2)])
    assert len(exact["items"]) == 32 and exact["has_more"] is False


async def test_anime_without_the_sort_value_come_last_and_are_not_lost(search_api: Any) -> None:
    index = search_api.stack.index
    donor = (await index.get([next(iter(search_api.stack.payloads))], with_vectors=True))[0]
    extra_id = str(uuid.uuid4())
    payload = {k: v for k, v in donor.payload.items() if k not in ("score", "year")}
    payload.update(anime_id=extra_id, title="Zz Unscored Test Anime")
    await index.upsert([VectorPoint(id=extra_id, vectors=donor.vectors, payload=payload)])
    await search_api.forget()
    try:
        for sort in ("score", "year"):
            walked = ids_of(await search_api.walk(PATH, [("sort", sort), ("limit", 9)]))
            assert len(walked) == len(set(walked)) == 65
            assert walked[-1] == extra_id
        page = await search_api.ok(PATH, [("sort", "score"), ("limit", 10), ("page", 7)])
        assert [i["anime_id"] for i in page["items"]][-1] == extra_id and page["has_more"] is False
        beyond = await search_api.ok(PATH, [("sort", "score"), ("limit", 8), ("page", 9)])
        assert [i["anime_id"] for i in beyond["items"]] == [extra_id] and beyond["total"] == 65
    finally:
        await index.delete([extra_id])
        await search_api.forget()


async def test_a_cursor_of_another_search_or_a_garbled_one_is_refused(search_api: Any) -> None:
    first = await search_api.ok(PATH, [("genre", "Action"), ("limit", 5)])
    other = await search_api.get(PATH, [("genre", "Drama"), ("limit", 5), ("cursor", first["next_cursor"])])
    resorted = await search_api.get(
        PATH, [("genre", "Action"), ("sort", "year"), ("cursor", first["next_cursor"])]
    )
    garbled = await search_api.get(PATH, [("cursor", "not-a-cursor!")])
    for response in (other, resorted, garbled):
        assert response.status_code == 400
        assert search_api.error_of(response)["code"] == "bad_request"
        assert "cursor" in search_api.error_of(response)["message"]


# ----------------------------------------------------------------------------- orphans


async def test_orphaned_anime_are_hidden_unless_included(search_api: Any) -> None:
    index = search_api.stack.index
    orphan = (await search_api.ok(PATH, [("limit", 1)]))["items"][0]["anime_id"]
    await search_api.ok(PATH, [("sort", "title")])  # builds the in-process title order
    await index.set_payload([orphan], {"system_status": "ORPHANED"})
    await search_api.redis.flushdb()  # only the response cache: the title order stays as it was
    try:
        for sort in ("popularity", "title"):
            hidden = await search_api.ok(PATH, [("sort", sort), ("limit", 100)])
            assert orphan not in {i["anime_id"] for i in hidden["items"]} and hidden["total"] == 63
            shown = await search_api.ok(PATH, [("sort", sort), ("limit", 100), ("include_orphaned", "true")])
            assert orphan in {i["anime_id"] for i in shown["items"]} and shown["total"] == 64
    finally:
        await index.set_payload([orphan], {"system_status": "ACTIVE"})
        await search_api.forget()


# ----------------------------------------------------------------------------- facets


async def test_facets_count_values_under_the_current_filter(search_api: Any) -> None:
    params = [
        ("type", "TV"),
        ("facet", "genres"),
        ("facet", "years"),
        ("facet", "types"),
        ("facet", "statuses"),
    ]
    body = await search_api.ok(PATH, params)
    tv = [p for p in search_api.stack.payloads.values() if p["type"] == "TV"]
    facets = {name: {b["value"]: b["count"] for b in buckets} for name, buckets in body["facets"].items()}
    assert facets["genres"] == dict(Counter(g for p in tv for g in p["genres"]))
    assert facets["years"] == dict(Counter(p["year"] for p in tv))
    assert facets["types"] == {"TV": len(tv)} and body["total"] == len(tv)
    assert facets["statuses"] == dict(Counter(p["status"] for p in tv))
    counts = [b["count"] for b in body["facets"]["genres"]]
    assert counts == sorted(counts, reverse=True)


# ----------------------------------------------------------------------------- caching


async def test_a_repeated_search_is_served_from_the_response_cache_with_a_stable_etag(
    search_api: Any,
) -> None:
    await search_api.forget()
    params = [("genre", "Fantasy"), ("sort", "score")]
    first = await search_api.get(PATH, params)
    again = await search_api.get(PATH, list(reversed(params)))
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
    assert first.headers["etag"] == again.headers["etag"] and first.json() == again.json()
    assert "max-age=300" in first.headers["cache-control"]
    unchanged = await search_api.get(PATH, params, headers={"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""


# ----------------------------------------------------------------------------- errors


INVALID: list[tuple[Params, str]] = [
    ([("limit", 0)], "limit"),
    ([("limit", 1000)], "limit"),
    ([("page", 0)], "page"),
    ([("page", 100_000)], "page"),
    ([("page", 101), ("limit", 100)], "page"),  # past result 10000: a cursor goes deeper
    ([("year_from", 2010), ("year_to", 2000)], "year_to"),
    ([("episodes_min", 30), ("episodes_max", 10)], "episodes_max"),
    ([("sort", "newest")], "sort"),
    ([("order", "up")], "order"),
    ([("type", "CARTOON")], "type.0"),
    ([("season", "MONSOON")], "season"),
    ([("score_min", 11)], "score_min"),
    ([("year", 1200)], "year"),
    ([("facet", "studios")], "facet.0"),
    ([("genre", "")], "genre.0"),
    ([("genres", "Action")], "genres"),  # a typo is an error, not an unfiltered search
    ([("q", "robots")], "q"),  # text queries belong to /search/semantic
    ([("page", 2), ("cursor", "abc")], "cursor"),
]


@pytest.mark.parametrize(("params", "field"), INVALID, ids=[f for _, f in INVALID])
async def test_invalid_parameters_are_a_json_422_naming_the_field(
    search_api: Any, params: Params, field: str
) -> None:
    response = await search_api.get(PATH, params)
    assert response.status_code == 422, response.text
    error = search_api.error_of(response)
    assert error["code"] == "invalid_request" and error["retryable"] is False
    assert field in [f["field"] for f in error["fields"]], error


async def test_an_unreachable_vector_index_is_a_503_while_health_stays_200(
    redis_server: RedisServer, search_embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    settings = ApiSettings(
        service_name="avs-api-search-test",
        data_dir=tmp_path,
        redis_url=f"redis://{redis_server.host}:{redis_server.port}/12",
        qdrant_url=f"http://127.0.0.1:{free_port()}",
        rate_limit_enabled=False,
    )
    app = create_app(settings, embedder=search_embedder)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client,
    ):
        for path, params in ((PATH, {"genre": "Action"}), ("/search/semantic", {"q": "giant robots"})):
            response = await client.get(path, params=params)
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["code"] == "unavailable" and error["retryable"] is True
            assert int(response.headers["retry-after"]) >= 1
        assert (await client.get("/health")).status_code == 200
