"""An LLM planner with a deadline and the rule planner behind it.

Whatever goes wrong with the model (no connection, an error status, an answer that is
not a valid plan, no answer within ``timeout_s``) the query is planned by the rules,
and the report says which planner was asked, which one answered and why. Planning
never fails a search.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from avs_api.agentic.plan import SearchPlan
from avs_api.agentic.planner import (
    Planner,
    PlannerFailure,
    PlannerName,
    PlannerReport,
    PlanOutcome,
)
from avs_api.agentic.rules import RulePlanner

log = structlog.get_logger(__name__)


class FallbackPlanner:
    """``primary`` within ``timeout_s``, else ``fallback`` (the rules), with a report of which and why."""

    def __init__(self, primary: Planner, fallback: RulePlanner, *, timeout_s: float) -> None:
        self._primary = primary
        self._fallback = fallback
        self._timeout_s = timeout_s
        self.requested: PlannerName = primary.name

    async def plan(self, q: str) -> SearchPlan:
        return (await self.plan_with_report(q)).plan

    async def plan_with_report(self, q: str) -> PlanOutcome:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                plan = await self._primary.plan(q)
        except TimeoutError:
            reason, detail = "timeout", f"no answer within {self._timeout_s:g}s"
        except PlannerFailure as exc:
            reason, detail = exc.reason, str(exc)
        except Exception as exc:  # a bug in an adapter must not fail the search either
            log.exception("planner crashed", planner=self.requested)
            reason, detail = "error", f"{type(exc).__name__}: {exc}"
        else:
            return PlanOutcome(plan, self._report(self.requested, started))
        log.warning("planner fell back to rules", requested=self.requested, reason=reason, detail=detail)
        plan = self._fallback.plan_now(q)
        return PlanOutcome(plan, self._report("rules", started, reason=reason, detail=detail))

    def _report(
        self, used: PlannerName, started: float, *, reason: str | None = None, detail: str | None = None
    ) -> PlannerReport:
        return PlannerReport(
            used=used,
            requested=self.requested,
            fallback_reason=reason,
            detail=detail,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )


class RulesOnly:
    """The rule planner, reporting like the others (nothing to fall back from)."""

    requested: PlannerName = "rules"

    def __init__(self, rules: RulePlanner) -> None:
        self._rules = rules

    async def plan(self, q: str) -> SearchPlan:
        return self._rules.plan_now(q)

    async def plan_with_report(self, q: str) -> PlanOutcome:
        started = time.perf_counter()
        plan = self._rules.plan_now(q)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        return PlanOutcome(plan, PlannerReport(used="rules", requested="rules", latency_ms=latency_ms))
