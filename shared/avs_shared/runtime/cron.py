"""The local runner that fires scheduled jobs: :class:`LocalCron`.

Moto does not fire EventBridge rules, so the all-in-one runner (``avs run``) reads
the schedule expressions from the topology catalogue and fires the jobs itself with
:class:`LocalCron`. In the cloud the same jobs run as scheduled tasks.

The expressions themselves (syntax, :func:`parse`, :func:`next_fire`) are in
:mod:`avs_shared.runtime.cron_expr`; their public names are re-exported here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

import structlog

from avs_shared.runtime.cron_expr import (
    EPOCH,
    CronExpression,
    DayRule,
    RateExpression,
    ScheduleExpression,
    next_fire,
    parse,
)
from avs_shared.topology import Schedule

__all__ = [
    "EPOCH",
    "Clock",
    "CronExpression",
    "CronJob",
    "DayRule",
    "LocalCron",
    "RateExpression",
    "ScheduleExpression",
    "SystemClock",
    "next_fire",
    "parse",
]

log = structlog.get_logger(__name__)


CronJob = Callable[[datetime], Awaitable[object]]
"""A scheduled job: receives the instant it was scheduled for (UTC), e.g. to build a stable event id."""


class Clock(Protocol):
    """Time for :class:`LocalCron`; tests inject one that jumps instead of sleeping."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    async def sleep_until(self, when: datetime, stop: asyncio.Event) -> bool:
        """Wait until ``when`` or until ``stop`` is set; True if stopped."""
        ...


class SystemClock:
    """The wall clock. Sleeps in slices so a suspended laptop or a clock change is noticed."""

    max_slice_s = 60.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime, stop: asyncio.Event) -> bool:
        while not stop.is_set():
            remaining = (when - self.now()).total_seconds()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(remaining, self.max_slice_s))
            except TimeoutError:
                continue
        return True


class LocalCron:
    """Fires each schedule's job at its due times until ``stop`` is set.

    Semantics: the first firing is the first due time after :meth:`run` starts (a
    firing missed while the process was down is not replayed); a schedule's job never
    overlaps itself (firings due while it still runs are skipped, with a warning); a
    job that raises is logged and the schedule goes on. On stop, a running job gets
    ``grace_s`` seconds to finish and is then cancelled.

    Parameters
    ----------
    jobs:
        ``(schedule, job)`` pairs; the job is awaited with the scheduled instant.
    clock:
        Defaults to :class:`SystemClock`.
    rate_anchor:
        Where ``rate(...)`` expressions count from (default: the Unix epoch).
    grace_s:
        How long a running job may go on after stop before it is cancelled.
    """

    def __init__(
        self,
        jobs: Sequence[tuple[Schedule, CronJob]],
        *,
        clock: Clock | None = None,
        rate_anchor: datetime = EPOCH,
        grace_s: float = 30.0,
    ) -> None:
        self._jobs = [(schedule, parse(schedule.expression), job) for schedule, job in jobs]
        self._clock: Clock = clock or SystemClock()
        self._anchor = rate_anchor
        self._grace_s = grace_s

    def next_fires(self) -> dict[str, datetime]:
        """Each schedule's next due time from now (for start-up logging and status)."""
        now = self._clock.now()
        return {s.name: next_fire(expr, now, anchor=self._anchor) for s, expr, _ in self._jobs}

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set (and running jobs have finished or been cancelled)."""
        if not self._jobs:
            await stop.wait()
            return
        async with asyncio.TaskGroup() as group:
            for schedule, expr, job in self._jobs:
                group.create_task(self._loop(schedule, expr, job, stop), name=f"cron:{schedule.name}")

    async def _loop(
        self, schedule: Schedule, expr: ScheduleExpression, job: CronJob, stop: asyncio.Event
    ) -> None:
        due = next_fire(expr, self._clock.now(), anchor=self._anchor)
        while not stop.is_set():
            if await self._clock.sleep_until(due, stop):
                return
            log.info(
                "cron.firing", schedule=schedule.name, expression=schedule.expression, due=due.isoformat()
            )
            await self._run_job(schedule, job, due, stop)
            following = next_fire(expr, due, anchor=self._anchor)
            now = self._clock.now()
            if following <= now:
                skipped_to = next_fire(expr, now, anchor=self._anchor)
                log.warning(
                    "cron.firings_skipped",
                    schedule=schedule.name,
                    reason="the job ran past its next firing",
                    skipped_from=following.isoformat(),
                    next=skipped_to.isoformat(),
                )
                following = skipped_to
            due = following

    async def _run_job(self, schedule: Schedule, job: CronJob, due: datetime, stop: asyncio.Event) -> None:
        task = asyncio.create_task(_call(job, due), name=f"cron-job:{schedule.name}")
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                log.info("cron.waiting_for_job", schedule=schedule.name, grace_s=self._grace_s)
                await asyncio.wait({task}, timeout=self._grace_s)
            if not task.done():
                log.warning("cron.job_cancelled", schedule=schedule.name, due=due.isoformat())
                task.cancel()
                await asyncio.wait({task})
        finally:
            stopping.cancel()
            if not task.done():  # we are being cancelled ourselves (a forced shutdown)
                task.cancel()
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error(
                "cron.job_failed",
                schedule=schedule.name,
                due=due.isoformat(),
                exc_info=(type(exc), exc, exc.__traceback__) if exc else None,
            )


async def _call(job: CronJob, due: datetime) -> None:
    await job(due)
