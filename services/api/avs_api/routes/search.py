"""``GET /search/structured`` (filters + sort) and ``GET /search/semantic`` (``q`` + filters).

Query parameters, shared by both endpoints unless noted:

* lists repeat the parameter: ``?genre=Action&genre=Comedy``;
* genres and tags come in three variants: ``genre`` / ``tag`` (has **all** of them),
  ``genre_any`` / ``tag_any`` (at least one), ``genre_not`` / ``tag_not`` (none);
  ``type``, ``status``, ``studio`` and ``rating`` are "any of";
* ranges: ``year`` (exact) or ``year_from`` / ``year_to``, ``episodes_min`` /
  ``episodes_max``, ``score_min``; plus ``season``, ``nsfw``, ``include_orphaned``;
* pages: ``limit`` (1-100) with ``page`` (1-based) or ``cursor`` (the previous
  page's ``next_cursor``);
* structured only: ``sort`` (popularity, score, year, title, relevance), ``order``
  (asc, desc; each sort has a default) and ``facet`` (genres, years, types, statuses);
* semantic only: ``q`` (1-300 characters) and ``mode`` (hybrid, dense, bm25).

An unknown parameter is an error (422), not silently ignored: a typo such as
``genres=Action`` would otherwise return unfiltered results. The work is done in
:mod:`avs_api.search.service`; responses go through the Redis response cache.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field, field_validator

from avs_api.deps import Resources
from avs_api.http_cache import cached_json
from avs_api.query_models import QueryModel
from avs_api.search.params import (
    MAX_QUERY_CHARS,
    Facet,
    Pagination,
    SearchFilters,
    SearchMode,
    Sort,
    SortOrder,
)
from avs_api.search.results import SearchResult
from avs_api.search.service import semantic_search, structured_search

router = APIRouter(tags=["search"])
#: Mounted early: a busy read endpoint is matched first (see ``avs_api.routes``).
PRIORITY = 0

#: Response cache lifetime (and Cache-Control max-age) of search responses: the plan's
#: 5-15 minutes for structured search; a commit becomes visible after at most this.
#: Structured search is cached in Redis, text search in the API process.
STRUCTURED_TTL_S = 300
SEMANTIC_TTL_S = 300
CACHE_NAMESPACE = "search"

_RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the ETag in If-None-Match is current (no body)."},
    400: {"description": "The cursor is malformed or belongs to another search."},
    422: {"description": "Invalid parameters; `error.fields` names each one and why."},
    503: {"description": "The vector index is unavailable; retry after `Retry-After` seconds."},
}


def _filters_of(params: SearchFilters) -> SearchFilters:
    """The filters of a route's parameter model (already validated: copied, not validated again)."""
    return SearchFilters.model_construct(
        **{name: getattr(params, name) for name in SearchFilters.model_fields}
    )


def _pagination_of(params: Pagination) -> Pagination:
    return Pagination(limit=params.limit, page=params.page, cursor=params.cursor)


class StructuredParams(SearchFilters, Pagination):
    """Every query parameter of ``/search/structured``."""

    sort: Sort = Field(
        default=Sort.POPULARITY,
        description="popularity, score, year (all descending by default), title (ascending by default) "
        "or relevance (without a query this is popularity).",
    )
    order: SortOrder | None = Field(default=None, description="asc or desc; default depends on `sort`.")
    facets: list[Facet] = Field(
        default_factory=list,
        alias="facet",
        max_length=len(Facet),
        description="Also count values under the current filter: genres, years, types, statuses. Repeatable.",
    )


class SemanticParams(SearchFilters, Pagination):
    """Every query parameter of ``/search/semantic``."""

    q: str = Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="What to look for: a title (any language or synonym), a plot, a kind of show.",
    )
    mode: SearchMode = Field(
        default=SearchMode.HYBRID,
        description="hybrid (default: meaning and title words, fused), dense (meaning only) or "
        "bm25 (title words only).",
    )

    @field_validator("q")
    @classmethod
    def _not_blank(cls, q: str) -> str:
        q = " ".join(q.split())
        if not q:
            raise ValueError("q is blank: give words to search for")
        return q


STRUCTURED = QueryModel(StructuredParams)
SEMANTIC = QueryModel(SemanticParams)


@router.get(
    "/search/structured", response_model=SearchResult, responses=_RESPONSES, openapi_extra=STRUCTURED.openapi
)
async def search_structured(
    request: Request, resources: Resources, params: Annotated[StructuredParams, Depends(STRUCTURED)]
) -> Response:
    """Browse anime by filters, sorted, with the total count and optional facets.

    Answered from the vector index payload (no database read per result). Pages
    visit every match exactly once; ``has_more`` says whether another page exists.
    Orphaned anime (gone from the source database) are hidden unless
    ``include_orphaned=true``.
    """

    async def compute() -> bytes:
        result = await structured_search(
            resources,
            _filters_of(params),
            sort=params.sort,
            order=params.order,
            pagination=_pagination_of(params),
            facets=params.facets,
        )
        return result.model_dump_json().encode()

    return await cached_json(
        request, resources, ttl_s=STRUCTURED_TTL_S, compute=compute, namespace=CACHE_NAMESPACE
    )


@router.get(
    "/search/semantic", response_model=SearchResult, responses=_RESPONSES, openapi_extra=SEMANTIC.openapi
)
async def search_semantic(
    request: Request, resources: Resources, params: Annotated[SemanticParams, Depends(SEMANTIC)]
) -> Response:
    """Find anime by text: titles in any language, synonyms, plots, kinds of show.

    ``hybrid`` fuses the query's meaning (MiniLM embedding against the plot and the
    genre/tag vectors) with BM25 over titles and synonyms (RRF); a query that is
    exactly an anime's title, romaji or Japanese title, or a synonym, ranks that
    anime first. Every structured filter applies too. Results carry ``relevance``
    and ``rank``; they are ranked, not counted (``total`` is null).
    """

    async def compute() -> bytes:
        result = await semantic_search(
            resources, params.q, _filters_of(params), pagination=_pagination_of(params), mode=params.mode
        )
        return result.model_dump_json().encode()

    # Kept in this process, not Redis: free-text queries rarely repeat (see LocalResponses).
    return await cached_json(
        request,
        resources,
        ttl_s=SEMANTIC_TTL_S,
        compute=compute,
        namespace=CACHE_NAMESPACE,
        store=resources.responses,
    )
