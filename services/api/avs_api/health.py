"""Liveness and readiness endpoints."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from avs_api.deps import Checks, Resources
from avs_api.readiness import ReadinessReport, run_checks

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process serves HTTP. Checks no dependency."""
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=ReadinessReport,
    responses={503: {"model": ReadinessReport, "description": "a dependency is down"}},
)
async def ready(resources: Resources, checks: Checks) -> JSONResponse:
    """Readiness: every dependency answers within a short timeout (200), else 503 naming it."""
    report = await run_checks(checks, timeout_s=resources.settings.ready_timeout_seconds)
    return JSONResponse(report.model_dump(), status_code=200 if report.status == "ready" else 503)
