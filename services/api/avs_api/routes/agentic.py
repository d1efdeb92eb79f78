"""``GET /search/agentic?q=``: natural-language search, planned by the configured planner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from avs_api.agentic.execute import MAX_AGENTIC_LIMIT, AgenticSearchResponse, agentic_search
from avs_api.agentic.planning import Planning, open_planning
from avs_api.bootstrap import ApiResources
from avs_api.deps import Resources
from avs_api.errors import ApiError
from avs_api.search.params import MAX_QUERY_CHARS


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Runs inside the app's own lifespan, so the resources (and settings) exist already.
    resources: ApiResources = app.state.resources
    async with open_planning(resources.settings) as planning:
        app.state.agentic_planning = planning
        yield


router = APIRouter(tags=["search"], lifespan=_lifespan)


def _planning(request: Request) -> Planning:
    planning: Planning = request.app.state.agentic_planning
    return planning


AgenticPlanning = Annotated[Planning, Depends(_planning)]


@router.get(
    "/search/agentic",
    response_model=AgenticSearchResponse,
    summary="Natural-language search",
    responses={422: {"description": "q missing, blank or too long; limit out of range"}},
)
async def search_agentic(
    resources: Resources,
    planning: AgenticPlanning,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description='What to find, in plain words: "short mecha anime from the 90s", '
            '"movies like Spirited Away", "best romance not isekai".',
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_AGENTIC_LIMIT, description="Results (1-50).")] = 20,
) -> AgenticSearchResponse:
    """Plans ``q`` into query text, filters, sort and "similar to" (``plan``), runs it, and
    says which planner made the plan (``planner``: the one asked for, the one used and,
    after a fallback to the rules, why)."""
    if not q.strip():
        raise ApiError(
            422, "invalid_request", "q is blank; say what to find", fields=[{"field": "q", "reason": "blank"}]
        )
    return await agentic_search(resources, planning, q.strip(), limit=limit)
