"""The FastAPI application. Clients are created in the lifespan: importing this does no I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from avs_api import health
from avs_api.bootstrap import open_resources, readiness_checks
from avs_api.settings import ApiSettings


def create_app(settings: ApiSettings) -> FastAPI:
    """Build the app; its clients open when it starts serving and close when it stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as resources:
            app.state.resources = resources
            app.state.readiness_checks = readiness_checks(resources)
            yield

    app = FastAPI(title="anime-vector-service", version="0.1.0", lifespan=lifespan)
    app.include_router(health.router)
    return app
