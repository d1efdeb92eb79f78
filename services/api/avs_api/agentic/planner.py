"""The ``Planner`` port and what planning reports.

A planner turns a natural-language query into a :class:`SearchPlan`. The rule planner
always answers; an LLM planner may fail in the ways below, and
:class:`avs_api.agentic.fallback.FallbackPlanner` turns any failure into the rule
planner's answer plus a report that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from pydantic import BaseModel, Field

from avs_api.agentic.plan import SearchPlan

PlannerName = Literal["rules", "bedrock", "openai"]


class Planner(Protocol):
    """Natural language in, a validated plan out."""

    name: PlannerName

    async def plan(self, q: str) -> SearchPlan:
        """Plan ``q``.

        Raises
        ------
        PlannerFailure
            (LLM planners only) the model could not be asked or its answer is unusable.
        """
        ...


class PlannerFailure(Exception):
    """An LLM planner gave no usable plan; ``reason`` is a stable code for responses."""

    reason: ClassVar[str] = "error"


class PlannerTimeout(PlannerFailure):
    reason = "timeout"


class PlannerUnreachable(PlannerFailure):
    """No connection to the model endpoint (refused, DNS, reset)."""

    reason = "unreachable"


class PlannerUnavailable(PlannerFailure):
    """The endpoint answered with a transient error (throttled, 5xx, model not ready)."""

    reason = "unavailable"


class PlannerRejected(PlannerFailure):
    """The endpoint refused the request (credentials, unknown model, bad request)."""

    reason = "rejected"


class InvalidPlanAnswer(PlannerFailure):
    """The model answered, but not with a valid plan (not JSON, or JSON that fails validation)."""

    reason = "invalid_answer"


class PlannerReport(BaseModel):
    """Which planner made the plan, and why it is not the one asked for when it isn't."""

    used: PlannerName
    requested: PlannerName
    fallback_reason: str | None = Field(
        default=None,
        description="timeout | unreachable | unavailable | rejected | invalid_answer | error",
    )
    detail: str | None = Field(default=None, description="What went wrong, for people.")
    latency_ms: float = 0.0


@dataclass(frozen=True)
class PlanOutcome:
    plan: SearchPlan
    report: PlannerReport


class ReportingPlanner(Protocol):
    """What the route uses: a plan and the report of how it was made."""

    requested: PlannerName

    async def plan_with_report(self, q: str) -> PlanOutcome: ...
