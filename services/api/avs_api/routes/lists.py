"""``GET /popular`` and ``GET /top-rated``: pages of the curated lists (see :mod:`avs_api.lists`).

Each page goes through the Redis response cache (``lists_cache_ttl_seconds``); below
it, the list itself is precomputed in Redis by the 12-hourly refresh job, so a stored
list is served even while the vector index is down.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from avs_api.deps import Resources
from avs_api.http_cache import cached_json
from avs_api.lists import ListConfig, ListKind, curated_list, list_page

router = APIRouter(tags=["lists"])
#: Mounted early: a busy read endpoint is matched first (see ``avs_api.routes``).
PRIORITY = 2

Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1000, description="How many list items to skip.")]
IncludeOrphaned = Annotated[bool, Query(description="Also list anime that left the source database.")]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the ETag in If-None-Match is current (no body)."},
    422: {"description": "Invalid parameters; the body names each field."},
    503: {"description": "The list is not stored and the vector index is down."},
}


async def _serve(
    kind: ListKind, request: Request, resources: Resources, limit: int, offset: int, include_orphaned: bool
) -> Response:
    settings = resources.settings

    async def compute() -> dict[str, Any]:
        doc = await curated_list(
            kind,
            include_orphaned=include_orphaned,
            cache=resources.cache,
            index=resources.ready_index,
            config=ListConfig.from_settings(settings),
        )
        return list_page(doc, limit=limit, offset=offset)

    return await cached_json(request, resources, ttl_s=settings.lists_cache_ttl_seconds, compute=compute)


@router.get("/popular", responses=_RESPONSES)
async def popular(
    request: Request,
    resources: Resources,
    limit: Limit = 20,
    offset: Offset = 0,
    include_orphaned: IncludeOrphaned = False,
) -> Response:
    """The most popular anime (members on the largest provider), most popular first."""
    return await _serve(ListKind.POPULAR, request, resources, limit, offset, include_orphaned)


@router.get("/top-rated", responses=_RESPONSES)
async def top_rated(
    request: Request,
    resources: Resources,
    limit: Limit = 20,
    offset: Offset = 0,
    include_orphaned: IncludeOrphaned = False,
) -> Response:
    """The best-scored anime with enough popularity for the score to mean something, best first."""
    return await _serve(ListKind.TOP_RATED, request, resources, limit, offset, include_orphaned)
