"""The FastAPI application. Clients are created in the lifespan: importing this does no I/O."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from avs_api import health, routes
from avs_api.bootstrap import ApiResources, open_resources, readiness_checks, short_gil_turns
from avs_api.errors import install_error_handlers
from avs_api.ratelimit import install_rate_limit
from avs_api.review.wiring import intake_worker
from avs_api.settings import ApiSettings
from avs_shared.ports.embedding import Embedder
from avs_shared.ports.vector import VectorIndex

log = structlog.get_logger(__name__)


async def _open_index(resources: ApiResources) -> None:
    """Open the vector index before serving, so the first search and ``/ready`` do not pay
    for it. An index that is down does not stop the API: lookups by id still work, and
    searches answer 503 until it is back."""
    try:
        await asyncio.wait_for(resources.ready_index(), timeout=resources.settings.index_open_timeout_seconds)
    except Exception as exc:
        log.warning("vector index not available at start; searches answer 503 until it is", error=repr(exc))


def create_app(
    settings: ApiSettings, *, index: VectorIndex | None = None, embedder: Embedder | None = None
) -> FastAPI:
    """Build the app; its clients open when it starts serving and close when it stops.

    ``index`` / ``embedder``: parts shared with other services of the same process.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings, index=index, embedder=embedder) as resources:
            with short_gil_turns():
                app.state.resources = resources
                app.state.readiness_checks = readiness_checks(resources)
                await _open_index(resources)
                if settings.api_run_workers:  # the API alone in its container: its consumer too
                    async with intake_worker(resources.aws, settings, entries=resources.entries):
                        yield
                else:
                    yield

    app = FastAPI(
        title="anime-vector-service",
        version="0.1.0",
        description="Search, lookups and curated lists over the anime catalogue.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_rate_limit(app, settings)  # before CORS, so CORS stays outermost
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match", "X-API-Key"],
            expose_headers=[
                "ETag",
                "Cache-Control",
                "Retry-After",
                "X-Cache",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
            ],
        )
    app.include_router(health.router)
    for router in routes.discover():
        app.include_router(router)
    return app
