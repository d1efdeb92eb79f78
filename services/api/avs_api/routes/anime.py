"""``GET /anime/{anime_id}`` (the entry, or a projection) and ``GET /anime/{anime_id}/similar``.

The entry never touches the vector index, so lookups keep working while it is down;
Redis down only makes them slower. The logic is in :mod:`avs_api.lookups`; "similar"
is the search service's :func:`~avs_api.search.service.similar_to`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import Field

from avs_api.deps import Resources
from avs_api.errors import ApiError
from avs_api.http_cache import cached_json, json_response
from avs_api.lookups import InvalidFields, entry_json, entry_projection, parse_fields
from avs_api.query_models import QueryModel
from avs_api.search.params import SearchFilters
from avs_api.search.results import SimilarResult
from avs_api.search.service import similar_to

router = APIRouter(tags=["anime"])
#: Mounted early: a busy read endpoint is matched first (see ``avs_api.routes``).
PRIORITY = 1

MAX_SIMILAR = 50
AnimeId = Annotated[uuid.UUID, Path(description="The anime's id (a UUID).")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the ETag in If-None-Match is current (no body)."},
    404: {"description": "No anime with this id."},
    422: {"description": "Invalid id or parameters; the body names each field."},
}


def _not_found(anime_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no anime with id {anime_id}; check the id")


@router.get("/anime/{anime_id}", responses=_ERRORS)
async def get_anime(
    anime_id: AnimeId,
    request: Request,
    resources: Resources,
    fields: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Comma-separated document paths to return instead of the whole entry, "
            "e.g. title,genres,statistics.mal.score (at most 20).",
        ),
    ] = None,
) -> Response:
    """The whole entry (Redis cache-aside over DynamoDB), or only ``fields`` (read from DynamoDB)."""
    anime = str(anime_id)
    settings = resources.settings
    if fields is None:
        body = await entry_json(
            anime, entries=resources.entries, cache=resources.cache, ttl_s=settings.entry_cache_ttl_seconds
        )
        if body is None:
            raise _not_found(anime)
        return json_response(body, request=request, max_age=settings.entry_max_age_seconds)
    try:
        projected = await entry_projection(anime, parse_fields(fields), entries=resources.entries)
    except InvalidFields as exc:
        raise ApiError(
            422, "invalid_request", "the request is invalid; see fields", fields=[_reason("fields", exc)]
        ) from exc
    if projected is None:
        raise _not_found(anime)
    return json_response(projected, request=request, max_age=settings.entry_max_age_seconds)


class SimilarParams(SearchFilters):
    """Every query parameter of ``/anime/{anime_id}/similar``: the search filters and a limit."""

    limit: int = Field(default=10, ge=1, le=MAX_SIMILAR, description="How many similar anime (1-50).")


SIMILAR = QueryModel(SimilarParams)


@router.get(
    "/anime/{anime_id}/similar",
    response_model=SimilarResult,
    openapi_extra=SIMILAR.openapi,
    responses={
        **_ERRORS,
        503: {"description": "The vector index is unavailable; retry after `Retry-After`."},
    },
)
async def get_similar(
    anime_id: AnimeId,
    request: Request,
    resources: Resources,
    params: Annotated[SimilarParams, Depends(SIMILAR)],
) -> Response:
    """Anime like this one, best first, itself excluded, under any filter of ``/search/structured``.

    Nearest neighbours of its stored ``tags`` vector (what kind of show) and ``text``
    vector (what it is about), fused with RRF: the same search as the agentic
    "like <title>". Orphaned anime are hidden unless ``include_orphaned=true``.
    """
    filters = SearchFilters.model_construct(
        **{name: getattr(params, name) for name in SearchFilters.model_fields}
    )

    async def compute() -> bytes:
        result = await similar_to(resources, str(anime_id), filters, limit=params.limit)
        return result.model_dump_json().encode()

    return await cached_json(
        request, resources, ttl_s=resources.settings.similar_cache_ttl_seconds, compute=compute
    )


def _reason(field: str, exc: Exception) -> dict[str, str]:
    return {"field": field, "reason": str(exc)}
