"""``GET /anime/{anime_id}`` (the entry, or a projection) and ``GET /anime/{anime_id}/similar``.

The entry never touches the vector index, so lookups keep working while it is down;
Redis down only makes them slower. The logic is in :mod:`avs_api.lookups`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from avs_api.deps import Resources
from avs_api.errors import ApiError
from avs_api.http_cache import cached_json, json_response
from avs_api.lookups import (
    InvalidFields,
    SimilarFilters,
    entry_json,
    entry_projection,
    parse_fields,
    similar_anime,
)
from avs_shared.schema import AnimeType

router = APIRouter(tags=["anime"])

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


@router.get("/anime/{anime_id}/similar", responses={**_ERRORS, 503: {"description": "Index down."}})
async def get_similar(
    anime_id: AnimeId,
    request: Request,
    resources: Resources,
    limit: Annotated[int, Query(ge=1, le=50, description="How many similar anime.")] = 10,
    types: Annotated[
        list[AnimeType] | None, Query(alias="type", description="Only these types (repeatable, any of).")
    ] = None,
    genres: Annotated[
        list[str] | None,
        Query(alias="genre", max_length=10, description="Only anime with this genre (repeatable, all of)."),
    ] = None,
    year_from: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    year_to: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    include_orphaned: Annotated[
        bool, Query(description="Also list anime that left the source database.")
    ] = False,
) -> Response:
    """Anime like this one (nearest neighbours of its ``tags`` vector), best first, itself excluded."""
    if year_from is not None and year_to is not None and year_from > year_to:
        raise ApiError(
            422,
            "invalid_request",
            "the request is invalid; see fields",
            fields=[{"field": "year_from", "reason": f"year_from {year_from} is after year_to {year_to}"}],
        )
    filters = SimilarFilters(
        types=tuple(dict.fromkeys(types or ())),
        genres=tuple(dict.fromkeys(g.strip() for g in genres or () if g.strip())),
        year_from=year_from,
        year_to=year_to,
        include_orphaned=include_orphaned,
    )
    anime = str(anime_id)

    async def compute() -> dict[str, Any]:
        index = await resources.ready_index()
        return await similar_anime(anime, index=index, filters=filters, limit=limit)

    return await cached_json(
        request, resources, ttl_s=resources.settings.similar_cache_ttl_seconds, compute=compute
    )


def _reason(field: str, exc: Exception) -> dict[str, str]:
    return {"field": field, "reason": str(exc)}
