"""FastAPI dependencies shared by every router (``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from avs_api.bootstrap import ApiResources
from avs_api.readiness import ReadinessCheck


async def get_resources(request: Request) -> ApiResources:
    resources: ApiResources = request.app.state.resources
    return resources


async def get_checks(request: Request) -> list[ReadinessCheck]:
    checks: list[ReadinessCheck] = request.app.state.readiness_checks
    return checks


Resources = Annotated[ApiResources, Depends(get_resources)]
Checks = Annotated[list[ReadinessCheck], Depends(get_checks)]
