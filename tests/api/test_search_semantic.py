"""``GET /search/semantic`` on the 64-anime sample with the real model: titles first, filters,
pages, orphans, errors; and the service layer's ``similar_to`` and query-embedding cache."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray

from avs_api.app import create_app
from avs_api.bootstrap import GIL_SWITCH_INTERVAL_S, ApiResources, short_gil_turns
from avs_api.search.params import Pagination, SearchFilters, SearchMode
from avs_api.search.results import ITEM_FIELDS
from avs_api.search.service import (
    HYBRID,
    NAME_KEYS_FIELD,
    _names_probe,
    query_vector,
    ranked_hits,
    semantic_search,
    similar_to,
)
from avs_api.search.titles import title_key
from avs_shared.adapters.embedding import MiniLMEmbedder
from avs_shared.adapters.embedding.process import ProcessEmbedder
from avs_shared.errors import NotFound
from avs_shared.ports.vector import DenseQuery, MatchAny, SearchFilter, SparseQuery, VectorPoint

PATH = "/search/semantic"
TITLE_KINDS = ("title_english", "title_romaji", "synonym", "title_japanese")


def ranked_ids(body: dict[str, Any]) -> list[str]:
    return [item["anime_id"] for item in body["items"]]


# ----------------------------------------------------------------------------- titles first


async def test_every_labelled_title_query_finds_its_anime_first(
    search_api: Any, labelled_queries: list[dict[str, Any]]
) -> None:
    titles = [q for q in labelled_queries if q["kind"] in TITLE_KINDS]
    assert len(titles) == 52
    misses = []
    for query in titles:
        body = await search_api.ok(PATH, {"q": query["query"], "limit": 5})
        first = body["items"][0]
        if first["anime_id"] not in query["relevant"]:
            misses.append((query["kind"], query["query"], first["title"]))
        assert first["rank"] == 1
    assert misses == []


async def test_a_named_anime_outside_the_fused_page_is_pinned_with_its_list_payload(
    search_api: Any, labelled_queries: list[dict[str, Any]]
) -> None:
    """One hit per page: the fused ranking alone often puts another anime first, so the pinned
    anime must come from the names probe, with the same list fields as every other hit."""
    index = await search_api.resources.ready_index()
    unpinned = replace(HYBRID, pin_exact_titles=False)
    fields = list(ITEM_FIELDS)
    outside = 0
    for query in (q for q in labelled_queries if q["kind"] in TITLE_KINDS):
        text, flt = query["query"], SearchFilter()
        fused = await ranked_hits(
            search_api.resources, index, text, flt, mode=SearchMode.HYBRID, limit=1, tuning=unpinned
        )
        [hit] = await ranked_hits(search_api.resources, index, text, flt, mode=SearchMode.HYBRID, limit=1)
        assert hit.id in query["relevant"], text
        [stored] = await index.get([hit.id])
        assert hit.payload == {f: v for f, v in stored.payload.items() if f in fields}, text
        assert hit.score == fused[0].score  # ranked first, it shows the best fused relevance
        outside += fused[0].id != hit.id
    assert outside > 0  # some pinned anime were not on the fused page at all


@pytest.mark.parametrize(
    "q",
    [
        "進撃の巨人",
        "shingeki no kyojin",
        "SHINGEKI NO KYOJIN!",
        "Attack on Titan",
        "SnK",
        "  Attack   on Titan ",
    ],
)
async def test_a_title_in_any_script_case_or_spacing_ranks_its_anime_first(search_api: Any, q: str) -> None:
    body = await search_api.ok(PATH, {"q": q})
    assert body["items"][0]["title"] == "Shingeki no Kyojin"


@pytest.mark.parametrize("q", ["shingekinokyojin", "Attack-on-Titan", "ＡＴＴＡＣＫ　ＯＮ　ＴＩＴＡＮ"])
async def test_a_title_typed_however_it_tokenises_ranks_its_anime_first(search_api: Any, q: str) -> None:
    """The names probe looks the name's key up: no word need match the title's words."""
    if q == "shingekinokyojin":  # no title word in it: BM25 alone cannot find it
        bm25 = await search_api.ok(PATH, {"q": q, "mode": "bm25"})
        assert "Shingeki no Kyojin" not in [item["title"] for item in bm25["items"]]
    body = await search_api.ok(PATH, {"q": q})
    assert body["items"][0]["title"] == "Shingeki no Kyojin"


async def test_points_without_name_keys_fall_back_to_the_bm25_names_probe(search_api: Any) -> None:
    """A collection indexed before ``name_keys`` existed: exact titles are still pinned (by BM25's
    best few title matches) until ``avs backfill-names`` writes the field."""
    index = search_api.stack.index
    found = await search_api.ok(PATH, {"q": "Cowboy Bebop"})
    [bebop] = await index.get([found["items"][0]["anime_id"]], with_vectors=True)
    legacy_id = str(uuid.UUID(int=0xB1B0))
    legacy_payload = {k: v for k, v in bebop.payload.items() if k != "name_keys"}
    legacy_payload.update(anime_id=legacy_id, title="Legacy Point", synonyms=[])
    legacy = VectorPoint(id=legacy_id, vectors=bebop.vectors, sparse=bebop.sparse, payload=legacy_payload)
    vector = [1.0] + [0.0] * 383
    resources = search_api.resources

    probe = await _names_probe(index, "Attack on Titan", "attackontitan", vector, SearchFilter(), ["title"])
    assert isinstance(probe.query, DenseQuery) and probe.filter is not None
    assert MatchAny(NAME_KEYS_FIELD, ["attackontitan"]) in probe.filter.must
    await index.upsert([legacy])
    await search_api.forget()
    try:
        fallback = await _names_probe(
            index, "Attack on Titan", "attackontitan", vector, SearchFilter(), ["title"]
        )
        assert isinstance(fallback.query, SparseQuery) and fallback.filter == SearchFilter()
        body = await search_api.ok(PATH, {"q": "Attack on Titan"})
        assert body["items"][0]["title"] == "Shingeki no Kyojin"
        hits = await ranked_hits(resources, index, "SnK", SearchFilter(), mode=SearchMode.HYBRID, limit=1)
        assert hits[0].payload is not None and hits[0].payload["title"] == "Shingeki no Kyojin"
    finally:
        await index.delete([legacy_id])
        await search_api.forget()
    again = await _names_probe(index, "Attack on Titan", "attackontitan", vector, SearchFilter(), ["title"])
    assert isinstance(again.query, DenseQuery)


async def test_a_plot_description_finds_the_anime_it_describes(search_api: Any) -> None:
    body = await search_api.ok(
        PATH, {"q": "a bounty hunter crew drifting through space with a jazz soundtrack"}
    )
    assert "Cowboy Bebop" in [i["title"] for i in body["items"][:3]]
    assert body["total"] is None and (body["sort"], body["mode"]) == ("relevance", "hybrid")
    relevance = [i["relevance"] for i in body["items"]]
    assert relevance == sorted(relevance, reverse=True)
    assert [i["rank"] for i in body["items"]] == list(range(1, len(body["items"]) + 1))


@pytest.mark.parametrize("mode", ["dense", "bm25"])
async def test_single_retriever_modes_answer_too(search_api: Any, mode: str) -> None:
    body = await search_api.ok(PATH, {"q": "Cowboy Bebop", "mode": mode})
    assert body["mode"] == mode and body["items"][0]["title"] == "Cowboy Bebop"


async def test_bm25_alone_finds_nothing_for_words_in_no_title(search_api: Any) -> None:
    body = await search_api.ok(PATH, {"q": "zzqx", "mode": "bm25"})
    assert (body["items"], body["has_more"]) == ([], False)


# ----------------------------------------------------------------------------- filters


async def test_structured_filters_apply_to_text_search(search_api: Any) -> None:
    payloads = search_api.stack.payloads
    params = [("q", "giant robots fighting"), ("type", "TV"), ("year_from", 2000), ("genre_not", "Comedy")]
    body = await search_api.ok(PATH, [*params, ("limit", 100)])
    got = ranked_ids(body)
    assert got, "the filter leaves candidates"
    for pid in got:
        p = payloads[pid]
        assert p["type"] == "TV" and p["year"] >= 2000 and "Comedy" not in p["genres"]
    title_hit = await search_api.ok(PATH, [("q", "Cowboy Bebop"), ("type", "MOVIE")])
    assert "Cowboy Bebop" not in [i["title"] for i in title_hit["items"]]


# ----------------------------------------------------------------------------- pagination


@pytest.mark.parametrize(
    "q", ["Fullmetal Alchemist", "a girl who becomes a magical girl and learns the cost"]
)
async def test_pages_of_a_text_search_continue_the_same_ranking(search_api: Any, q: str) -> None:
    whole = await search_api.ok(PATH, {"q": q, "limit": 100})
    walked = await search_api.walk(PATH, [("q", q), ("limit", 6)])
    by_page = await search_api.walk(PATH, [("q", q), ("limit", 6)], by="page")
    ids = [pid for page in walked for pid in ranked_ids(page)]
    assert ids == ranked_ids(whole) == [pid for page in by_page for pid in ranked_ids(page)]
    assert len(ids) == len(set(ids)) == 64  # dense lists cover the whole sample
    ranks = [item["rank"] for page in walked for item in page["items"]]
    assert ranks == list(range(1, 65))


async def test_a_cursor_of_another_query_is_refused(search_api: Any) -> None:
    first = await search_api.ok(PATH, {"q": "robots", "limit": 5})
    response = await search_api.get(PATH, {"q": "pirates", "cursor": first["next_cursor"]})
    assert response.status_code == 400 and "cursor" in search_api.error_of(response)["message"]


# ----------------------------------------------------------------------------- orphans


async def test_an_orphaned_anime_is_not_found_unless_included(search_api: Any) -> None:
    found = await search_api.ok(PATH, {"q": "Cowboy Bebop"})
    orphan = found["items"][0]["anime_id"]
    await search_api.stack.index.set_payload([orphan], {"system_status": "ORPHANED"})
    await search_api.forget()
    try:
        for mode in ("hybrid", "dense", "bm25"):
            hidden = await search_api.ok(PATH, {"q": "Cowboy Bebop", "mode": mode, "limit": 100})
            assert orphan not in ranked_ids(hidden), mode
        shown = await search_api.ok(PATH, {"q": "Cowboy Bebop", "include_orphaned": "true"})
        assert ranked_ids(shown)[0] == orphan
    finally:
        await search_api.stack.index.set_payload([orphan], {"system_status": "ACTIVE"})
        await search_api.forget()


# ----------------------------------------------------------------------------- errors


INVALID: list[tuple[dict[str, Any], str]] = [
    ({}, "q"),
    ({"q": ""}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "x" * 301}, "q"),
    ({"q": "robots", "limit": 0}, "limit"),
    ({"q": "robots", "limit": 1000}, "limit"),
    ({"q": "robots", "page": 0}, "page"),
    ({"q": "robots", "mode": "sparse"}, "mode"),
    ({"q": "robots", "year_from": 2010, "year_to": 2000}, "year_to"),
    ({"q": "robots", "sort": "title"}, "sort"),  # text search is ranked by relevance only
]


@pytest.mark.parametrize(("params", "field"), INVALID, ids=[f"{f}-{i}" for i, (_, f) in enumerate(INVALID)])
async def test_invalid_parameters_are_a_json_422_naming_the_field(
    search_api: Any, params: dict[str, Any], field: str
) -> None:
    response = await search_api.get(PATH, params)
    assert response.status_code == 422, response.text
    error = search_api.error_of(response)
    assert error["code"] == "invalid_request"
    assert field in [f["field"] for f in error["fields"]], error


async def test_a_300_character_query_is_accepted(search_api: Any) -> None:
    body = await search_api.ok(PATH, {"q": ("space cowboys " * 30)[:300]})
    assert body["items"]


# ----------------------------------------------------------------------------- service layer


async def test_similar_to_excludes_the_anchor_and_applies_filters(search_api: Any) -> None:
    resources: ApiResources = search_api.resources
    payloads = search_api.stack.payloads
    anchor = next(pid for pid, p in payloads.items() if p["title"] == "Cowboy Bebop")
    result = await similar_to(resources, anchor, SearchFilters(), limit=10)
    ids = [i.anime_id for i in result.items]
    assert len(ids) == 10 and anchor not in ids and result.has_more is True
    assert [i.rank for i in result.items] == list(range(1, 11))
    assert "Samurai Champloo" in [i.title for i in result.items]  # same director, same kind of show
    movies = await similar_to(resources, anchor, SearchFilters(type=["MOVIE"]), limit=5)
    assert movies.items and all(payloads[i.anime_id]["type"] == "MOVIE" for i in movies.items)
    with pytest.raises(NotFound):
        await similar_to(resources, "00000000-0000-4000-8000-000000000000", SearchFilters())


class CountingEmbedder:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.texts.extend(texts)
        vectors: NDArray[np.float32] = await self.inner.embed(texts)
        return vectors

    def embed_sync(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.texts.extend(texts)
        vectors: NDArray[np.float32] = self.inner.embed_sync(texts)
        return vectors


async def test_an_identical_query_is_embedded_once(search_api: Any) -> None:
    counting = CountingEmbedder(search_api.stack.embedder)
    first = await query_vector(counting, "pirates searching for a legendary treasure")
    again = await query_vector(counting, "pirates searching for a legendary treasure")
    other = await query_vector(counting, "pirates searching for treasure")
    assert counting.texts == ["pirates searching for a legendary treasure", "pirates searching for treasure"]
    assert first == again and first != other and len(first) == 384


async def test_a_repeated_text_search_is_served_from_the_api_process_not_redis(search_api: Any) -> None:
    await search_api.forget()
    params = {"q": "pirates searching for a legendary treasure", "limit": 3}
    first = await search_api.client.get(PATH, params=params)
    again = await search_api.client.get(PATH, params=params)
    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert len(search_api.resources.responses) == 1
    assert await search_api.redis.keys("*") == []


async def test_the_service_layer_pages_with_a_cursor_like_the_endpoint(search_api: Any) -> None:
    resources: ApiResources = search_api.resources
    whole = await semantic_search(resources, "Naruto", SearchFilters(), pagination=Pagination(limit=10))
    first = await semantic_search(resources, "Naruto", SearchFilters(), pagination=Pagination(limit=4))
    assert first.next_cursor is not None and first.has_more
    rest = await semantic_search(
        resources, "Naruto", SearchFilters(), pagination=Pagination(limit=6, cursor=first.next_cursor)
    )
    assert [i.anime_id for i in first.items + rest.items] == [i.anime_id for i in whole.items]
    assert whole.items[0].title == "Naruto" and title_key(" NARUTO! ") == "naruto"
    dense = await semantic_search(resources, "Naruto", SearchFilters(), mode=SearchMode.DENSE)
    assert dense.mode is SearchMode.DENSE and dense.items


async def test_the_serving_api_takes_short_gil_turns_and_restores_them_after(search_api: Any) -> None:
    """The query embedding thread must get the GIL back from a busy event loop quickly."""
    assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
    with short_gil_turns(0.002):  # never lengthened
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
    default = 0.005
    previous = sys.getswitchinterval()
    sys.setswitchinterval(default)
    try:
        with short_gil_turns():
            assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
        assert sys.getswitchinterval() == pytest.approx(default)
    finally:
        sys.setswitchinterval(previous)


async def test_the_api_embeds_queries_in_a_worker_process_of_its_own(search_api: Any) -> None:
    """``python -m avs_api`` builds its own embedder: by default a ``ProcessEmbedder``, started
    by the first text search and gone with the app."""
    model_dir = search_api.stack.embedder.cache_dir.parent.parent  # the session's ONNX export
    settings = search_api.resources.settings.model_copy(update={"data_dir": model_dir})
    app = create_app(settings, index=search_api.stack.index)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client,
    ):
        embedder = app.state.resources.embedder
        assert isinstance(embedder, ProcessEmbedder) and embedder.pid is None
        response = await client.get(PATH, params={"q": "Naruto", "limit": 3})
        assert response.status_code == 200, response.text
        assert response.json()["items"][0]["title"] == "Naruto"
        pid = embedder.pid
        assert pid is not None and _alive(pid)
        text = "a boy pilots a giant robot"
        local = await query_vector(search_api.stack.embedder, text)
        np.testing.assert_allclose(await query_vector(embedder, text), local, atol=1e-6)
    assert embedder.pid is None and not _alive(pid)


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}/cmdline")
