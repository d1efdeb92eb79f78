"""The sync's composition root: its cron jobs (it consumes no queue).

``handler_specs`` / ``cron_jobs`` follow the registry contract of the all-in-one runner
(see ``avs_cli.registry``); ``python -m avs_sync`` runs the same jobs in a process of
its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from avs_shared.runtime.context import RunContext
from avs_shared.runtime.spec import HandlerSpec
from avs_shared.topology import S_DAILY_EPISODES, S_WEEKLY_SYNC
from avs_sync.ports import SyncPorts, sync_ports
from avs_sync.scheduler import schedule_daily
from avs_sync.sync import SyncOptions, run_sync

CronJob = Callable[[datetime], Awaitable[object]]


def handler_specs(ctx: RunContext) -> list[HandlerSpec[Any]]:
    """None: the sync is driven by its two schedules, not by messages."""
    return []


def jobs(ports: SyncPorts) -> dict[str, CronJob]:
    """``weekly-sync`` and ``daily-episode-scheduler`` over ``ports``."""

    async def weekly_sync(due: datetime) -> object:
        return await run_sync(ports, SyncOptions())

    async def daily_episode_scheduler(due: datetime) -> object:
        # The window starts now, not at the nominal due time: a late firing must not
        # create schedules in the past.
        return await schedule_daily(ports, now=max(due, datetime.now(UTC)))

    return {S_WEEKLY_SYNC: weekly_sync, S_DAILY_EPISODES: daily_episode_scheduler}


def cron_jobs(ctx: RunContext) -> dict[str, CronJob]:
    return jobs(sync_ports(ctx))
