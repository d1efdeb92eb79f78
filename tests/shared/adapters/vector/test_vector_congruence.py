"""The congruence suite: every test runs against both VectorIndex adapters.

Expected results come from a Python reference (``vector_dataset``) or from the
adapter's own simpler calls, never from one adapter's output alone, so both
adapters are held to the same answers. ``test_adapters_agree_*`` compare the
two side by side, scores included.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from vector_dataset import DIM, MODEL, anime_id, bm25_reference, expected_ids

from avs_shared.adapters.vector.sparse import Bm25Encoder
from avs_shared.errors import ConfigurationError, Conflict, NotFound, Permanent
from avs_shared.ports.vector import (
    Clause,
    DenseQuery,
    HasId,
    HybridQuery,
    IsEmpty,
    Match,
    MatchAny,
    MatchText,
    OrderBy,
    Range,
    Search,
    SearchFilter,
    SimilarTo,
    SparseQuery,
    StatusScope,
    VectorIndex,
    VectorPoint,
)

AOT, KNY, CHIHIRO = anime_id("aot"), anime_id("kny"), anime_id("chihiro")


def by_id(points: list[VectorPoint]) -> dict[str, VectorPoint]:
    return {p.id: p for p in points}


async def all_ids(index: VectorIndex, f: SearchFilter | None) -> set[str]:
    page = await index.scroll(filter=f, limit=1000)
    assert page.next_cursor is None
    return {h.id for h in page.hits}


# ----------------------------------------------------------------------------- writes


async def test_upsert_then_get_returns_payload_and_unit_vectors(
    index: VectorIndex, points: list[VectorPoint]
) -> None:
    wanted = [points[3].id, AOT, anime_id("missing")]
    got = await index.get(wanted, with_vectors=True)
    assert [p.id for p in got] == [points[3].id, AOT]
    aot = by_id(points)[AOT]
    assert got[1].payload == aot.payload
    assert set(got[1].vectors) == {"text", "tags"}
    assert got[1].vectors["text"] == pytest.approx(list(aot.vectors["text"]), abs=1e-5)
    assert math.isclose(sum(x * x for x in got[1].vectors["tags"]), 1.0, rel_tol=1e-5)
    stored, encoded = got[1].sparse["bm25"], Bm25Encoder().encode_document(aot.sparse_texts["bm25"])
    assert stored.indices == encoded.indices
    assert stored.values == pytest.approx(encoded.values, rel=1e-6)
    without = await index.get([AOT])
    assert without[0].vectors == {} and without[0].payload == aot.payload


async def test_upsert_is_idempotent(index: VectorIndex, points: list[VectorPoint]) -> None:
    before = await index.count(SearchFilter(status=StatusScope.ANY))
    await index.upsert(points)
    await index.upsert(points[:5])
    assert await index.count(SearchFilter(status=StatusScope.ANY)) == before == len(points)
    assert (await index.get([points[0].id]))[0].payload == points[0].payload


async def test_upsert_replaces_the_whole_point(index: VectorIndex, points: list[VectorPoint]) -> None:
    changed = replace(points[1], payload={"title": "Renamed", "year": 1990})
    await index.upsert([changed])
    assert (await index.get([changed.id]))[0].payload == {"title": "Renamed", "year": 1990}


async def test_set_payload_orphans_and_hides_from_default_reads(
    index: VectorIndex, points: list[VectorPoint]
) -> None:
    missing = anime_id("never-indexed")
    orphan = {"system_status": "ORPHANED", "orphaned_at": "2026-01-03T01:00:00Z"}
    active_before = await index.count()
    assert await index.set_payload([AOT, missing], orphan) == [missing]
    assert await index.set_payload([AOT], orphan) == []  # idempotent
    got = (await index.get([AOT], with_vectors=True))[0]
    assert got.payload["orphaned_at"] == "2026-01-03T01:00:00Z"
    assert got.payload["title"] == "Shingeki no Kyojin"  # merged, not replaced
    assert set(got.vectors) == {"text", "tags"}  # vectors untouched
    assert await index.count() == active_before - 1
    assert AOT in await all_ids(index, SearchFilter(status=StatusScope.ORPHANED))
    hits = await index.search(SparseQuery(text="進撃の巨人"), limit=5)
    assert AOT not in {h.id for h in hits}
    assert (await index.get([missing])) == []  # set_payload never creates points


async def test_delete_is_idempotent(index: VectorIndex, points: list[VectorPoint]) -> None:
    await index.delete([points[0].id, anime_id("absent")])
    await index.delete([points[0].id])
    assert await index.get([points[0].id]) == []
    assert await index.count(SearchFilter(status=StatusScope.ANY)) == len(points) - 1


# ----------------------------------------------------------------------------- filters

FILTERS = {
    "default-hides-orphans": None,
    "any-status": SearchFilter(status=StatusScope.ANY),
    "orphaned-only": SearchFilter(status=StatusScope.ORPHANED),
    "keyword": SearchFilter(must=[Match("type", "TV")]),
    "keyword-in-array": SearchFilter(must=[Match("genres", "Fantasy")]),
    "bool": SearchFilter(must=[Match("nsfw", True)]),
    "integer-value": SearchFilter(must=[Match("episodes", 14)]),
    "match-any": SearchFilter(must=[MatchAny("status", ["ONGOING", "UPCOMING"])]),
    "match-any-array": SearchFilter(must=[MatchAny("genres", ["Romance", "Sci-Fi"])]),
    "int-range": SearchFilter(must=[Range("year", gte=2005, lt=2015)]),
    "float-range": SearchFilter(must=[Range("score", gt=7.0, lte=8.5)]),
    "popularity-range": SearchFilter(must=[Range("popularity", gte=250, lte=300)]),
    "text": SearchFilter(must=[MatchText("title", "crimson")]),
    "text-two-words": SearchFilter(must=[MatchText("title", "Blue Garden")]),
    "is-empty": SearchFilter(must=[IsEmpty("studios")]),
    "missing-field-is-empty": SearchFilter(must=[IsEmpty("year")]),
    "has-id": SearchFilter(must=[HasId([AOT, KNY, anime_id("absent")])]),
    "should": SearchFilter(should=[Match("type", "MOVIE"), Match("nsfw", True)]),
    "must-not": SearchFilter(must_not=[Match("genres", "Action"), Range("year", lt=2000)]),
    "nested-or-of-ands": SearchFilter(
        should=[
            Clause(must=[Match("type", "TV"), Range("score", gte=8.0)]),
            Clause(must=[Match("season", "WINTER")], must_not=[Match("status", "FINISHED")]),
        ]
    ),
    "combined": SearchFilter(
        must=[Match("genres", "Drama"), Range("year", gte=2000)],
        should=[Match("studios", "Studio 1"), IsEmpty("studios")],
        must_not=[Match("rating", "G - All Ages")],
        status=StatusScope.ANY,
    ),
}


@pytest.mark.parametrize("name", list(FILTERS))
async def test_every_filter_kind_selects_what_the_reference_does(
    index: VectorIndex, points: list[VectorPoint], name: str
) -> None:
    f = FILTERS[name]
    expected = expected_ids(points, f)
    assert expected, "a filter case that selects nothing proves little"
    assert await all_ids(index, f) == expected
    assert await index.count(f) == len(expected)


async def test_filter_errors_are_permanent(index: VectorIndex) -> None:
    with pytest.raises(Permanent):
        await index.count(SearchFilter(must=[Range("year")]))
    with pytest.raises(Permanent):
        await index.count(SearchFilter(must=[HasId(["not-a-uuid"])]))


# ----------------------------------------------------------------------------- scroll


def _expected_order(points: list[VectorPoint], f: SearchFilter | None, ob: OrderBy) -> list[str]:
    chosen = [p for p in points if p.id in expected_ids(points, f) and ob.field in p.payload]
    sign = 1 if ob.direction == "asc" else -1
    return [p.id for p in sorted(chosen, key=lambda p: (sign * float(p.payload[ob.field]), p.id))]  # type: ignore[arg-type]


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("page_size", [1, 7, 100])
async def test_ordered_scroll_visits_every_point_once_in_value_then_id_order(
    index: VectorIndex, points: list[VectorPoint], direction: str, page_size: int
) -> None:
    ob = OrderBy("popularity", direction)  # type: ignore[arg-type]
    f = SearchFilter(status=StatusScope.ANY)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(200):
        page = await index.scroll(order_by=ob, filter=f, limit=page_size, cursor=cursor)
        assert len(page.hits) <= page_size
        seen += [h.id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == _expected_order(points, f, ob)
    assert len(seen) == len(set(seen)) == len(points)


async def test_filtered_ordered_scroll_with_offset_pages(
    index: VectorIndex, points: list[VectorPoint]
) -> None:
    ob = OrderBy("popularity", "desc")
    f = SearchFilter(must=[MatchAny("genres", ["Drama", "Action"]), Range("year", gte=2000, lte=2020)])
    expected = _expected_order(points, f, ob)
    assert len(expected) > 10
    pages = [await index.scroll(order_by=ob, filter=f, limit=4, offset=o) for o in range(0, len(expected), 4)]
    assert [h.id for p in pages for h in p.hits] == expected
    payload_values = [h.payload["popularity"] for p in pages for h in p.hits if h.payload]
    assert [h.score for p in pages for h in p.hits] == payload_values


async def test_ordered_scroll_by_float_field_skips_points_without_it(
    index: VectorIndex, points: list[VectorPoint]
) -> None:
    ob = OrderBy("year", "asc")
    page = await index.scroll(order_by=ob, limit=1000)
    assert [h.id for h in page.hits] == _expected_order(points, None, ob)
    page = await index.scroll(order_by=OrderBy("score", "desc"), limit=5, with_payload=["title"])
    assert [h.id for h in page.hits] == _expected_order(points, None, OrderBy("score", "desc"))[:5]
    assert all(h.payload is not None and set(h.payload) == {"title"} for h in page.hits)


async def test_scroll_by_id_pages_cover_everything(index: VectorIndex, points: list[VectorPoint]) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await index.scroll(
            limit=9, cursor=cursor, with_payload=False, filter=SearchFilter(status=StatusScope.ANY)
        )
        seen += [h.id for h in page.hits]
        assert all(h.payload is None for h in page.hits)
        if (cursor := page.next_cursor) is None:
            break
    assert seen == sorted(p.id for p in points)


async def test_scroll_rejects_bad_arguments(index: VectorIndex) -> None:
    page = await index.scroll(order_by=OrderBy("popularity"), limit=2)
    assert page.next_cursor is not None
    with pytest.raises(Permanent):
        await index.scroll(order_by=OrderBy("year"), cursor=page.next_cursor)
    with pytest.raises(Permanent):
        await index.scroll(order_by=OrderBy("popularity"), cursor=page.next_cursor, offset=2)
    with pytest.raises(Permanent):
        await index.scroll(order_by=OrderBy("title"))  # not a numeric index
    with pytest.raises(Permanent):
        await index.scroll(cursor="%%%not-a-cursor")


# ----------------------------------------------------------------------------- facets


def _facet_reference(
    points: list[VectorPoint], field: str, f: SearchFilter | None
) -> list[tuple[object, int]]:
    counts: dict[object, int] = {}
    for p in points:
        if p.id in expected_ids(points, f):
            raw = p.payload.get(field)
            for v in set(raw if isinstance(raw, list) else [] if raw is None else [raw]):
                counts[v] = counts.get(v, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("field", "f"),
    [
        ("genres", None),
        ("type", SearchFilter(must=[Range("year", gte=2010)])),
        ("status", SearchFilter(status=StatusScope.ANY)),
        ("year", SearchFilter(must=[Match("genres", "Drama")])),
        ("nsfw", None),
    ],
)
async def test_facets_count_values_under_a_filter(
    index: VectorIndex, points: list[VectorPoint], field: str, f: SearchFilter | None
) -> None:
    expected = _facet_reference(points, field, f)
    got = await index.facets(field, filter=f, limit=100)
    assert [(x.value, x.count) for x in got] == expected
    top = await index.facets(field, filter=f, limit=2)
    assert [(x.value, x.count) for x in top] == expected[:2]


async def test_facets_refuse_unindexed_kinds(index: VectorIndex) -> None:
    with pytest.raises(Permanent):
        await index.facets("score")


# ----------------------------------------------------------------------------- search


async def test_dense_search_finds_the_nearest_point_first(
    index: VectorIndex, points: list[VectorPoint]
) -> None:
    for target in (points[2], points[40], by_id(points)[KNY]):
        for using in ("text", "tags"):
            nudged = [x + 0.01 for x in target.vectors[using]]
            hits = await index.search(
                DenseQuery(nudged, using), limit=3, filter=SearchFilter(status=StatusScope.ANY)
            )
            assert hits[0].id == target.id
            assert hits[0].score > 0.99 and hits[0].score >= hits[1].score >= hits[2].score


async def test_dense_search_respects_filter_offset_and_threshold(
    index: VectorIndex, points: list[VectorPoint]
) -> None:
    f = SearchFilter(must=[Match("type", "MOVIE")])
    allowed = expected_ids(points, f)
    hits = await index.search(DenseQuery(points[0].vectors["text"]), filter=f, limit=50)
    assert {h.id for h in hits} == allowed
    assert [
        h.id for h in await index.search(DenseQuery(points[0].vectors["text"]), filter=f, limit=3, offset=2)
    ] == [h.id for h in hits[2:5]]
    above = await index.search(DenseQuery(points[0].vectors["text"]), filter=f, limit=50, score_threshold=0.2)
    assert [h.id for h in above] == [h.id for h in hits if h.score >= 0.2]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("進撃の巨人", AOT),  # the Japanese title
        ("巨人", AOT),  # part of it (CJK bigram)
        ("Shingeki no Kyojin", AOT),  # romaji title
        ("shingeki no kyoujin", AOT),  # a romaji synonym spelling
        ("Shingeki no Kyōjin", AOT),  # macron folded
        ("ATTACK ON TITAN", AOT),  # English synonym, any case
        ("Ｓｈｉｎｇｅｋｉ", AOT),  # full-width Latin
        ("鬼滅の刃", KNY),
        ("demon slayer", KNY),
        ("千と千尋", CHIHIRO),
        ("spirited away", CHIHIRO),
    ],
)
async def test_sparse_bm25_finds_titles_in_any_script(index: VectorIndex, query: str, expected: str) -> None:
    hits = await index.search(SparseQuery(text=query), limit=3)
    assert hits and hits[0].id == expected


async def test_sparse_scores_are_bm25_with_idf_over_live_points(
    index: VectorIndex, points: list[VectorPoint]
) -> None:
    await index.delete([points[0].id, points[1].id])  # IDF must forget deleted points at once
    live = [p for p in points if p.id not in (points[0].id, points[1].id)]
    reference = bm25_reference(live, "Crimson Knight no Kyojin", Bm25Encoder())
    hits = await index.search(
        SparseQuery(text="Crimson Knight no Kyojin"), limit=100, filter=SearchFilter(status=StatusScope.ANY)
    )
    assert {h.id: round(h.score, 4) for h in hits} == {k: round(v, 4) for k, v in reference.items()}


async def test_sparse_query_without_tokens_finds_nothing(index: VectorIndex) -> None:
    assert await index.search(SparseQuery(text="!!! ・ ..."), limit=5) == []


async def test_search_many_answers_each_search_as_search_does(
    index: VectorIndex, points: list[VectorPoint]
) -> None:
    searches = [
        Search(
            HybridQuery(
                dense=[DenseQuery(points[7].vectors["text"]), DenseQuery(points[2].vectors["tags"], "tags")],
                sparse=SparseQuery(text="Kimetsu no Kyojin"),
                candidates=8,
                rrf_k=5,
            ),
            filter=FILTERS["combined"],
            limit=4,
            with_payload=["title"],
        ),
        Search(SparseQuery(text="Silent Ocean no 巨人"), limit=3, offset=1, with_payload=False),
        Search(SparseQuery(text="!!! ・ ..."), limit=5),  # no tokens: nothing to ask the engine
        Search(DenseQuery(points[5].vectors["text"]), filter=FILTERS["must-not"], limit=6),
        Search(SimilarTo(points[8].id), limit=2, score_threshold=0.0),
    ]
    many = await index.search_many(searches)
    assert len(many) == len(searches)
    for s, got in zip(searches, many, strict=True):
        alone = await index.search(
            s.query,
            filter=s.filter,
            limit=s.limit,
            offset=s.offset,
            score_threshold=s.score_threshold,
            with_payload=s.with_payload,
        )
        assert [(h.id, h.payload) for h in got] == [(h.id, h.payload) for h in alone], s.query
        assert [h.score for h in got] == pytest.approx([h.score for h in alone], rel=1e-6)
    assert many[2] == [] and len(many[0]) == 4 and many[0][0].payload is not None
    assert set(many[0][0].payload) <= {"title"}
    assert await index.search_many([]) == []


async def _reference_rrf(
    index: VectorIndex, query: HybridQuery, f: SearchFilter | None, limit: int
) -> list[tuple[str, float]]:
    """RRF computed here from the adapter's own single-vector searches."""
    fused: dict[str, float] = {}
    subqueries: list[DenseQuery | SparseQuery] = [*query.dense, *([query.sparse] if query.sparse else [])]
    for sub in subqueries:
        for rank, h in enumerate(await index.search(sub, filter=f, limit=query.candidates)):
            fused[h.id] = fused.get(h.id, 0.0) + 1.0 / (query.rrf_k + rank)
    return sorted(fused.items(), key=lambda kv: (-round(kv[1], 6), kv[0]))[:limit]


async def test_hybrid_is_rrf_of_dense_and_sparse_candidates(
    index: VectorIndex, points: list[VectorPoint]
) -> None:
    dense = DenseQuery(points[10].vectors["text"])
    # No ties inside either candidate list: an engine ranks tied candidates in its own
    # order, so RRF over ties is the one place the adapters may legitimately differ.
    sparse = SparseQuery(text="Shingeki no Kyojin")
    f = SearchFilter(must_not=[Match("type", "OVA")])
    cases = [
        (HybridQuery(dense=[dense], sparse=sparse, candidates=8, rrf_k=60), f),
        (
            HybridQuery(
                dense=[dense, DenseQuery(points[10].vectors["tags"], "tags")], sparse=sparse, rrf_k=10
            ),
            None,
        ),
    ]
    for query, qf in cases:
        expected = await _reference_rrf(index, query, qf, 6)
        hits = await index.search(query, filter=qf, limit=6)
        assert [h.id for h in hits] == [pid for pid, _ in expected]
        assert [h.score for h in hits] == pytest.approx([s for _, s in expected], rel=1e-5)
        assert {AOT, points[10].id} <= {h.id for h in hits}  # both signals contribute


async def test_similar_to_excludes_the_anchor(index: VectorIndex, points: list[VectorPoint]) -> None:
    anchor = points[20]
    direct = await index.search(DenseQuery(anchor.vectors["tags"], "tags"), limit=6)
    assert direct[0].id == anchor.id
    similar = await index.search(SimilarTo(anchor.id, "tags"), limit=5)
    assert [h.id for h in similar] == [h.id for h in direct[1:6]]
    with pytest.raises(NotFound):
        await index.search(SimilarTo(anime_id("absent")))


# ----------------------------------------------------------------------------- lifecycle


async def test_model_mismatch_is_a_conflict_until_recreated(
    index: VectorIndex, points: list[VectorPoint]
) -> None:
    await index.ensure_collection(MODEL, DIM)  # same model: a no-op, data kept
    assert await index.count(SearchFilter(status=StatusScope.ANY)) == len(points)
    with pytest.raises(Conflict, match="test-model-16d"):
        await index.ensure_collection("another-model", DIM)
    with pytest.raises(Conflict):
        await index.ensure_collection(MODEL, DIM * 2)
    assert await index.count(SearchFilter(status=StatusScope.ANY)) == len(points)  # still usable
    await index.ensure_collection("another-model", 8, recreate=True)
    assert await index.count(SearchFilter(status=StatusScope.ANY)) == 0
    with pytest.raises(Permanent):  # the new dimension is enforced
        await index.upsert([replace(points[0], vectors={"text": [0.1] * DIM})])
    await index.upsert([replace(points[0], vectors={"text": [0.1] * 8})])
    assert await index.count(SearchFilter(status=StatusScope.ANY)) == 1


async def test_bad_points_are_permanent_errors(index: VectorIndex, points: list[VectorPoint]) -> None:
    with pytest.raises(Permanent):
        await index.upsert([replace(points[0], id="not-a-uuid")])
    with pytest.raises(Permanent):
        await index.upsert([replace(points[0], vectors={"nope": [0.0] * DIM})])
    with pytest.raises(Permanent):
        await index.upsert([replace(points[0], vectors={"text": [0.0] * (DIM + 1)})])


async def test_health_reports_points(index: VectorIndex, points: list[VectorPoint]) -> None:
    health = await index.health()
    assert health.ok and health.points == len(points)


async def test_calls_before_ensure_collection_are_configuration_errors(unopened_index: VectorIndex) -> None:
    with pytest.raises(ConfigurationError, match="ensure_collection"):
        await unopened_index.count()
    with pytest.raises(ConfigurationError):
        await unopened_index.upsert([])
    assert not (await unopened_index.health()).ok


# ----------------------------------------------------------------------------- side by side


async def test_adapters_agree_on_every_read(pair: dict[str, VectorIndex], points: list[VectorPoint]) -> None:
    edge, server = pair["edge"], pair["server"]
    queries = [
        DenseQuery(points[5].vectors["text"]),
        DenseQuery(points[6].vectors["tags"], "tags"),
        SparseQuery(text="Silent Ocean no 巨人"),
        HybridQuery(
            dense=[DenseQuery(points[7].vectors["text"])], sparse=SparseQuery(text="Kimetsu no Kyojin")
        ),
        SimilarTo(points[8].id),
    ]
    for f in [None, FILTERS["combined"], FILTERS["must-not"]]:
        for q in queries:
            a, b = await edge.search(q, filter=f, limit=10), await server.search(q, filter=f, limit=10)
            assert [h.id for h in a] == [h.id for h in b], q
            assert [h.score for h in a] == pytest.approx([h.score for h in b], rel=1e-4, abs=1e-6)
            assert [h.payload for h in a] == [h.payload for h in b]
        assert await edge.count(f) == await server.count(f)
        assert await edge.facets("genres", filter=f) == await server.facets("genres", filter=f)
        ob = OrderBy("score", "desc")
        assert await edge.scroll(order_by=ob, filter=f, limit=13) == await server.scroll(
            order_by=ob, filter=f, limit=13
        )
    await edge.set_payload([points[3].id], {"system_status": "ORPHANED"})
    await server.set_payload([points[3].id], {"system_status": "ORPHANED"})
    await edge.delete([points[4].id])
    await server.delete([points[4].id])
    q = SparseQuery(text="Blue Garden Saga")
    a, b = await edge.search(q, limit=20), await server.search(q, limit=20)
    assert [(h.id, round(h.score, 4)) for h in a] == [(h.id, round(h.score, 4)) for h in b]
