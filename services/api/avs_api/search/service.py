"""The search service layer: structured, semantic and similar-to searches over ``anime``.

Plain async functions that take the API's resources and validated parameters
(:mod:`avs_api.search.params`) and return a :class:`SearchResult`. The HTTP routes and
the agentic planner both call these; neither builds index queries itself.

Everything is answered by the vector index (payload filters, ordered scrolls,
counts, facets, dense/sparse/hybrid search): a result list needs no DynamoDB read.
Requests to the index that do not depend on each other run concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from avs_api.bootstrap import ApiResources
from avs_shared.errors import NotFound
from avs_shared.ports.embedding import Embedder
from avs_shared.ports.vector import (
    TAGS_VECTOR,
    TEXT_VECTOR,
    DenseQuery,
    FacetCount,
    HasId,
    Hit,
    HybridQuery,
    IsEmpty,
    MatchAny,
    Search,
    SearchFilter,
    SimilarTo,
    SparseQuery,
    StatusScope,
    VectorIndex,
)

from . import cursor
from .filters import Vocabulary, fingerprint, needs_vocabulary, to_search_filter, with_condition
from .memo import LruCache, PerObject
from .pages import forget_title_orders, ordered_page, title_page
from .params import DEFAULT_ORDER, Facet, Pagination, SearchFilters, SearchMode, Sort, SortOrder
from .results import ITEM_FIELDS, FacetBucket, SearchItem, SearchResult, SimilarResult
from .titles import NAME_FIELDS, PIN_CANDIDATES, exact_name_match, title_key

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class HybridTuning:
    """How the hybrid search fuses its retrievers (values chosen with ``bench/search_quality.py``).

    ``dense_vectors``: the named vectors the query embedding is matched against; each
    is one ranked list in the fusion, next to BM25. ``candidates``: hits each list
    contributes; the fused result is their union, so a hybrid search ends after at
    least ``candidates`` and at most ``len(lists) * candidates`` anime.
    """

    dense_vectors: tuple[str, ...] = (TEXT_VECTOR, TAGS_VECTOR)
    candidates: int = 100
    rrf_k: int = 5
    pin_exact_titles: bool = True


HYBRID = HybridTuning()
#: "Similar to X": RRF of the anchor's stored vectors (see :func:`similar_to`). Both, fused,
#: rank better than ``tags`` alone on the labelled ``like`` queries (``bench/search_quality.py``).
SIMILAR_VECTORS: tuple[str, ...] = (TAGS_VECTOR, TEXT_VECTOR)
#: Text search ranks at most this many anime; deeper pages are empty.
SEMANTIC_MAX_DEPTH = 1000
#: Sorts the index orders by itself (numeric payload fields).
SORT_FIELDS: dict[Sort, str] = {Sort.POPULARITY: "popularity", Sort.SCORE: "score", Sort.YEAR: "year"}
#: Facet name → (payload field, most values returned).
FACET_FIELDS: dict[Facet, tuple[str, int]] = {
    Facet.GENRES: ("genres", 100),
    Facet.YEARS: ("year", 200),
    Facet.TYPES: ("type", 20),
    Facet.STATUSES: ("status", 20),
}
EMBEDDING_CACHE_SIZE = 1024
VOCABULARY_TTL_S = 300.0


_VOCABULARIES: PerObject[VectorIndex, LruCache[str, Vocabulary]] = PerObject(
    lambda: LruCache(1, VOCABULARY_TTL_S)
)
_EMBEDDINGS: PerObject[Embedder, LruCache[str, list[float]]] = PerObject(
    lambda: LruCache(EMBEDDING_CACHE_SIZE)
)
_NAMES_INDEXED: PerObject[VectorIndex, LruCache[str, bool]] = PerObject(lambda: LruCache(1, VOCABULARY_TTL_S))
#: The payload field of every name's ``title_key`` (written by the indexer).
NAME_KEYS_FIELD = "name_keys"


def clear_caches(index: VectorIndex) -> None:
    """Forget the in-process vocabulary, title orderings and name-key check of ``index``
    (after bulk changes)."""
    _VOCABULARIES.of(index).clear()
    _NAMES_INDEXED.of(index).clear()
    forget_title_orders(index)


# ----------------------------------------------------------------------------- shared steps


async def resolve_filter(index: VectorIndex, filters: SearchFilters) -> SearchFilter:
    """The index filter of ``filters``, genre and rating names spelled as the catalogue does."""
    vocabulary = await _vocabulary(index) if needs_vocabulary(filters) else None
    return to_search_filter(filters, vocabulary)


async def _vocabulary(index: VectorIndex) -> Vocabulary:
    async def load() -> Vocabulary:
        everything = SearchFilter(status=StatusScope.ANY)
        genres, ratings = await asyncio.gather(
            index.facets("genres", filter=everything, limit=1000),
            index.facets("rating", filter=everything, limit=200),
        )
        return Vocabulary.from_values(
            {"genres": [str(f.value) for f in genres], "rating": [str(f.value) for f in ratings]}
        )

    return await _VOCABULARIES.of(index).get_or_compute("all", load)


async def query_vector(embedder: Embedder, text: str) -> list[float]:
    """The embedding of a query, from a small in-process LRU when the same text came before."""

    async def embed() -> list[float]:
        rows = await embedder.embed([text])
        return [float(x) for x in rows[0].tolist()]

    return await _EMBEDDINGS.of(embedder).get_or_compute(text, embed)


def _items(hits: Sequence[Hit], *, first_rank: int | None = None) -> list[SearchItem]:
    if first_rank is None:
        return [SearchItem.from_payload(h.id, h.payload) for h in hits]
    return [
        SearchItem.from_payload(h.id, h.payload, relevance=round(h.score, 6), rank=first_rank + i)
        for i, h in enumerate(hits)
    ]


def _facet_buckets(counts: Sequence[FacetCount]) -> list[FacetBucket]:
    return [FacetBucket(value=c.value, count=c.count) for c in counts]


# ----------------------------------------------------------------------------- structured


async def structured_search(
    resources: ApiResources,
    filters: SearchFilters,
    *,
    sort: Sort = Sort.POPULARITY,
    order: SortOrder | None = None,
    pagination: Pagination | None = None,
    facets: Sequence[Facet] = (),
) -> SearchResult:
    """Anime matching ``filters`` in ``sort`` order, one page, with the total and facets.

    ``relevance`` has no meaning without a query and falls back to popularity. Anime
    lacking the sort field (e.g. no score yet) come after all others, by id, so a
    walk through the pages visits every match exactly once.
    """
    pagination = pagination or Pagination()
    applied = Sort.POPULARITY if sort is Sort.RELEVANCE else sort
    direction = order or DEFAULT_ORDER[applied]
    index = await resources.ready_index()
    flt = await resolve_filter(index, filters)
    fp = fingerprint("structured", filters.model_dump(mode="json"), applied, direction)
    state = cursor.decode(pagination.cursor, fp) if pagination.cursor else None

    async def page() -> tuple[list[Hit], dict[str, Any] | None]:
        if applied is Sort.TITLE:
            return await title_page(index, flt, direction, pagination, state)
        return await ordered_page(index, flt, SORT_FIELDS[applied], direction, pagination, state)

    async def facet(name: Facet) -> list[FacetCount]:
        field, limit = FACET_FIELDS[name]
        return await index.facets(field, filter=flt, limit=limit)

    wanted = list(dict.fromkeys(facets))
    (hits, next_state), counted, facet_counts = await asyncio.gather(
        page(), index.count(flt), asyncio.gather(*(facet(f) for f in wanted))
    )
    return SearchResult(
        items=_items(hits),
        limit=pagination.limit,
        page=None if pagination.cursor else (pagination.page or 1),
        has_more=next_state is not None,
        next_cursor=cursor.encode(fp, **next_state) if next_state else None,
        total=counted,
        sort=applied,
        order=direction,
        facets={f.value: _facet_buckets(c) for f, c in zip(wanted, facet_counts, strict=True)}
        if wanted
        else None,
    )


# ----------------------------------------------------------------------------- semantic


async def semantic_search(
    resources: ApiResources,
    q: str,
    filters: SearchFilters,
    *,
    pagination: Pagination | None = None,
    mode: SearchMode = SearchMode.HYBRID,
    tuning: HybridTuning = HYBRID,
) -> SearchResult:
    """Anime matching ``filters``, ranked by how well they match the text ``q``.

    ``hybrid`` fuses BM25 over titles and synonyms with the query embedding against
    the dense vectors of ``tuning`` (RRF), and puts an anime named exactly ``q`` first;
    ``dense`` and ``bm25`` run one retriever alone. Results are ranked, not counted:
    ``total`` is None and at most :data:`SEMANTIC_MAX_DEPTH` anime are served.
    """
    pagination = pagination or Pagination()
    text = " ".join(q.split())
    index = await resources.ready_index()
    flt = await resolve_filter(index, filters)
    fp = fingerprint("semantic", text, mode, filters.model_dump(mode="json"), tuning)
    offset = pagination.offset
    if pagination.cursor:
        state = cursor.decode(pagination.cursor, fp)
        raw = state.get("o")
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
            raise cursor.InvalidCursor("cursor is malformed: pass next_cursor exactly as it was returned")
        offset = raw
    end = min(offset + pagination.limit, SEMANTIC_MAX_DEPTH)
    ranked: list[Hit] = []
    if text and offset < end:
        # One more than the page tells whether there is a next one.
        ranked = await ranked_hits(resources, index, text, flt, mode=mode, limit=end + 1, tuning=tuning)
    has_more = len(ranked) > end and end < SEMANTIC_MAX_DEPTH
    return SearchResult(
        items=_items(ranked[offset:end], first_rank=offset + 1),
        limit=pagination.limit,
        page=None if pagination.cursor else (pagination.page or 1),
        has_more=has_more,
        next_cursor=cursor.encode(fp, o=end) if has_more else None,
        total=None,
        sort=Sort.RELEVANCE,
        order=SortOrder.DESC,
        query=text,
        mode=mode,
    )


async def ranked_hits(
    resources: ApiResources,
    index: VectorIndex,
    text: str,
    flt: SearchFilter,
    *,
    mode: SearchMode,
    limit: int,
    tuning: HybridTuning = HYBRID,
) -> list[Hit]:
    """The best ``limit`` hits for ``text`` under ``flt``, best first, with the list payload."""
    fields = list(ITEM_FIELDS)
    if mode is SearchMode.BM25:
        return await index.search(SparseQuery(text=text), filter=flt, limit=limit, with_payload=fields)
    if mode is SearchMode.DENSE:
        vector = await query_vector(resources.embedder, text)
        return await index.search(
            DenseQuery(vector, TEXT_VECTOR), filter=flt, limit=limit, with_payload=fields
        )

    vector = await query_vector(resources.embedder, text)
    fused = HybridQuery(
        dense=[DenseQuery(vector, using) for using in tuning.dense_vectors],
        # RRF reads only the BM25 ranks. The shard's segment statistics (which count
        # replaced points until a segment is optimised) rank the candidates as counting the
        # live points would, bar small drift, and the fused query costs 2/3 as much.
        sparse=SparseQuery(text=text, segment_idf=True),
        # Constant per search (not grown with the page): the fused ranking depends on
        # the candidate lists, so every page of one search must see the same lists.
        candidates=tuning.candidates,
        rrf_k=tuning.rrf_k,
    )
    searches = [Search(fused, filter=flt, limit=limit, with_payload=fields)]
    if tuning.pin_exact_titles and (key := title_key(text)):
        # The names probe rides in the same batch as the fused query: the engine plans both
        # in one pass over its segments (and a worker process answers both at once).
        searches.append(await _names_probe(index, text, key, vector, flt, fields))
    hits, *probe = await index.search_many(searches)
    pinned = exact_name_match(text, probe[0]) if probe else None
    if pinned is None:
        return hits
    # Ranked first, it shows the best fused relevance, so relevance never rises down the list.
    top = hits[0].score if hits else pinned.score
    first = Hit(pinned.id, top, _fields(pinned.payload or {}, fields))
    return [first, *[h for h in hits if h.id != pinned.id][: limit - 1]]


async def _names_probe(
    index: VectorIndex, text: str, key: str, vector: list[float], flt: SearchFilter, fields: Sequence[str]
) -> Search:
    """The search for anime named ``text``: those whose ``name_keys`` hold its key, nearest first.

    A keyword lookup, so it costs next to nothing and finds the name however it tokenises
    (``"shingekinokyojin"``). While some points lack ``name_keys`` (indexed before the field
    existed; ``avs backfill-names`` adds it), BM25's best few title matches stand in.
    """
    wanted = list(dict.fromkeys([*fields, *NAME_FIELDS]))
    if await _names_indexed(index):
        named = with_condition(flt, must=[MatchAny(NAME_KEYS_FIELD, [key])])
        return Search(
            DenseQuery(vector, TEXT_VECTOR), filter=named, limit=PIN_CANDIDATES, with_payload=wanted
        )
    # Only the top few names are compared with the text: segment statistics suffice.
    names = SparseQuery(text=text, segment_idf=True)
    return Search(names, filter=flt, limit=PIN_CANDIDATES, with_payload=wanted)


async def _names_indexed(index: VectorIndex) -> bool:
    """Whether every point has ``name_keys`` (checked again every few minutes)."""

    async def check() -> bool:
        missing = await index.count(SearchFilter(must=[IsEmpty(NAME_KEYS_FIELD)], status=StatusScope.ANY))
        if missing:
            log.warning(
                "exact-name queries use BM25 while anime lack name_keys; run `avs backfill-names`",
                anime_without_name_keys=missing,
            )
        return missing == 0

    return await _NAMES_INDEXED.of(index).get_or_compute("all", check)


def _fields(payload: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The ``fields`` of a stored payload that it has (as a search asking for them returns)."""
    return {f: payload[f] for f in fields if f in payload}


# ----------------------------------------------------------------------------- similar


async def similar_to(
    resources: ApiResources,
    anime_id: str,
    filters: SearchFilters,
    *,
    limit: int = 10,
    vectors: tuple[str, ...] = SIMILAR_VECTORS,
) -> SimilarResult:
    """Anime most like ``anime_id`` (itself excluded), under ``filters``, best first.

    The one implementation of "similar to": ``GET /anime/{anime_id}/similar`` and the
    agentic planner's "like <title>" both call it. The anchor's stored vectors are used
    as they are (no embedding at query time). With two vectors the neighbour lists of
    each are fused with RRF: ``tags`` says what *kind* of show it is, ``text`` what it
    is about; fused, a neighbour must be close on both to rank high
    (``bench/search_quality.py`` compares the choices).

    Raises ``NotFound`` if ``anime_id`` is not in the index.
    """
    index = await resources.ready_index()
    flt = await resolve_filter(index, filters)
    fields = list(ITEM_FIELDS)
    if len(vectors) == 1:
        try:
            hits = await index.search(
                SimilarTo(anime_id, vectors[0]), filter=flt, limit=limit + 1, with_payload=fields
            )
        except NotFound as exc:
            raise NotFound(f"no anime with id {anime_id} in the index; check the id") from exc
        used = list(vectors)
    else:
        points = await index.get([anime_id], with_vectors=True)
        if not points:
            raise NotFound(f"no anime with id {anime_id} in the index; check the id")
        anchor = points[0]
        dense = [DenseQuery(anchor.vectors[v], v) for v in vectors if v in anchor.vectors]
        if not dense:
            raise NotFound(f"anime {anime_id} has none of the vectors {', '.join(vectors)}")
        query = HybridQuery(dense=dense, candidates=max(HYBRID.candidates, limit + 1), rrf_k=HYBRID.rrf_k)
        hits = await index.search(
            query,
            filter=with_condition(flt, must_not=[HasId([anchor.id])]),
            limit=limit + 1,
            with_payload=fields,
        )
        used = [d.using for d in dense]
    hits = [h for h in hits if h.id != anime_id]  # excluded by the query; the promise holds regardless
    return SimilarResult(
        anime_id=anime_id,
        using=used,
        items=_items(hits[:limit], first_rank=1),
        limit=limit,
        has_more=len(hits) > limit,
        sort=Sort.RELEVANCE,
        order=SortOrder.DESC,
    )
