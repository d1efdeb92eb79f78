"""``/proxy/jikan/...``, ``POST /proxy/anilist``, ``/proxy/kitsu/...``: the third-party proxy.

Open to everyone (rate limited per client like every endpoint, and per provider
globally); answers are cached (``X-Cache: HIT`` / ``MISS``). See :mod:`avs_api.proxy`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from avs_api.proxy import Proxied, ProxyService, open_proxy, read_limited
from avs_api.proxy.errors import body_too_large


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Runs inside the app's lifespan, after its resources opened (FastAPI nests router lifespans).
    resources = app.state.resources
    async with open_proxy(resources.settings, cache=resources.cache) as proxy:
        app.state.proxy = proxy
        yield


def get_proxy(request: Request) -> ProxyService:
    proxy: ProxyService = request.app.state.proxy
    return proxy


Proxy = Annotated[ProxyService, Depends(get_proxy)]

router = APIRouter(prefix="/proxy", tags=["proxy"], lifespan=_lifespan)

_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "path, query or GraphQL document not allowed"},
    404: {"description": "not a proxied path, or the provider has no such resource"},
    429: {"description": "the provider asked us to slow down (Retry-After)"},
    502: {"description": "the provider failed or is unreachable"},
    503: {"description": "our request budget for the provider is spent for now (Retry-After)"},
    504: {"description": "the provider did not answer in time"},
}


def _response(proxied: Proxied) -> Response:
    return Response(
        proxied.body, status_code=proxied.status, media_type=proxied.content_type, headers=proxied.headers()
    )


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path


@router.get("/jikan/{path:path}", responses=_ERRORS)
async def jikan(path: str, request: Request, proxy: Proxy) -> Response:
    """Jikan (MyAnimeList) v4: ``anime/{id}``, ``anime/{id}/full``, ``anime?q=``, ``seasons/now``, ..."""
    query = request.query_params.multi_items()
    return _response(await proxy.get("jikan", path, raw_path=_raw_path(request), query=query))


@router.get("/kitsu/{path:path}", responses=_ERRORS)
async def kitsu(path: str, request: Request, proxy: Proxy) -> Response:
    """Kitsu (JSON:API): ``anime/{id}``, ``anime?filter[text]=``, ``anime/{id}/episodes``, ..."""
    query = request.query_params.multi_items()
    return _response(await proxy.get("kitsu", path, raw_path=_raw_path(request), query=query))


#: The body ``POST /proxy/anilist`` reads (the route reads the raw body itself, to bound its size).
_GRAPHQL_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["query"],
                "properties": {
                    "query": {"type": "string", "description": "A GraphQL document of queries only."},
                    "variables": {"type": "object", "description": "Values of the query's variables."},
                    "operationName": {"type": "string", "description": "Which operation to run."},
                },
            },
            "example": {
                "query": "query ($id: Int) { Media(id: $id) { id title { romaji } } }",
                "variables": {"id": 1},
            },
        }
    },
}


@router.post(
    "/anilist",
    responses={**_ERRORS, 413: {"description": "body too large"}},
    openapi_extra={"requestBody": _GRAPHQL_BODY},
)
async def anilist(request: Request, proxy: Proxy) -> Response:
    """AniList GraphQL, queries only: ``{"query": "query { Media(id: 1) { id } }", "variables": {}}``."""
    limit = proxy.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    body = await read_limited(request.stream(), limit)
    if body is None:
        raise body_too_large(limit)
    return _response(await proxy.graphql(body))
