"""Readiness: named dependency probes run concurrently, each with a short timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

Probe = Callable[[], Awaitable[object]]
"""Returns when the dependency answers; raises (any exception) when it does not."""


@dataclass(frozen=True)
class ReadinessCheck:
    """One dependency the API cannot serve without, e.g. ``dynamodb`` or ``redis``."""

    name: str
    probe: Probe


class CheckResult(BaseModel):
    status: Literal["up", "down"]
    latency_ms: float
    error: str | None = None


class ReadinessReport(BaseModel):
    status: Literal["ready", "unavailable"]
    down: list[str]
    checks: dict[str, CheckResult]


async def run_checks(checks: Sequence[ReadinessCheck], *, timeout_s: float) -> ReadinessReport:
    """Run every probe at once; a probe that raises or exceeds ``timeout_s`` is down."""
    results = await asyncio.gather(*(_run(check, timeout_s) for check in checks))
    by_name = dict(zip((c.name for c in checks), results, strict=True))
    down = [name for name, result in by_name.items() if result.status == "down"]
    return ReadinessReport(status="unavailable" if down else "ready", down=down, checks=by_name)


async def _run(check: ReadinessCheck, timeout_s: float) -> CheckResult:
    started = time.perf_counter()
    error: str | None = None
    try:
        await asyncio.wait_for(check.probe(), timeout=timeout_s)
    except TimeoutError:
        error = f"no answer within {timeout_s:g}s"
    except Exception as exc:  # any failure means "not ready"; the message goes to the caller
        error = f"{type(exc).__name__}: {exc}"
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return CheckResult(status="down" if error else "up", latency_ms=latency_ms, error=error)
