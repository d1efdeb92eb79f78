"""The FastAPI application. Clients are created in the lifespan: importing this does no I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from avs_api import health, routes
from avs_api.bootstrap import open_resources, readiness_checks
from avs_api.errors import install_error_handlers
from avs_api.settings import ApiSettings
from avs_shared.ports.embedding import Embedder
from avs_shared.ports.vector import VectorIndex


def create_app(
    settings: ApiSettings, *, index: VectorIndex | None = None, embedder: Embedder | None = None
) -> FastAPI:
    """Build the app; its clients open when it starts serving and close when it stops.

    ``index`` / ``embedder``: parts shared with other services of the same process.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings, index=index, embedder=embedder) as resources:
            app.state.resources = resources
            app.state.readiness_checks = readiness_checks(resources)
            yield

    app = FastAPI(
        title="anime-vector-service",
        version="0.1.0",
        description="Search, lookups and curated lists over the anime catalogue.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match", "X-API-Key"],
            expose_headers=["ETag", "Cache-Control", "Retry-After"],
        )
    app.include_router(health.router)
    for router in routes.discover():
        app.include_router(router)
    return app
