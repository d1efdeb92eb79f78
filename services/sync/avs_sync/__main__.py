"""``python -m avs_sync``: the sync service in a process of its own (its container).

In the cloud its two jobs run as scheduled tasks, one job per run::

    python -m avs_sync weekly-sync [--force] [--dry-run] [--source URL|PATH]
    python -m avs_sync daily-episode-scheduler

Without a job name (the image's default command) it stays up and fires both jobs on
their catalogue schedules itself (``weekly-sync`` Saturday 01:00 UTC,
``daily-episode-scheduler`` 00:05 UTC) until SIGTERM: for a stack without a cloud
scheduler, such as docker-compose.local.yml. Exit codes: 0 done, 1 the job failed,
2 bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import structlog

from avs_shared.errors import AvsError, ConfigurationError
from avs_shared.runtime.cron import LocalCron
from avs_shared.runtime.logging import configure_logging
from avs_shared.runtime.signals import stop_on_signals
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
from avs_shared.settings import load_settings
from avs_shared.topology import S_DAILY_EPISODES, S_WEEKLY_SYNC, TOPOLOGY
from avs_sync.bootstrap import jobs
from avs_sync.ports import open_sync_ports
from avs_sync.scheduler import schedule_daily
from avs_sync.settings import SyncSettings
from avs_sync.sync import SyncOptions, run_sync

log = structlog.get_logger("avs_sync")


async def serve(settings: SyncSettings) -> None:
    """Fire the sync's schedules until a signal."""
    stop = stop_on_signals()
    async with open_sync_ports(settings) as ports:
        cron = LocalCron(
            [(TOPOLOGY.schedule(name), job) for name, job in jobs(ports).items()],
            grace_s=settings.worker_drain_timeout_seconds,
        )
        for name, due in cron.next_fires().items():
            log.info("cron schedule armed", schedule=name, next_fire=due.isoformat())
        await cron.run(stop)


async def run_once(settings: SyncSettings, args: argparse.Namespace) -> None:
    async with open_sync_ports(settings) as ports:
        if args.job == S_WEEKLY_SYNC:
            summary = await run_sync(
                ports, SyncOptions(source=args.source, force=args.force, dry_run=args.dry_run)
            )
            print("\n".join(summary.lines()))
        else:
            report = await schedule_daily(ports)
            print("\n".join(report.lines()))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m avs_sync", description=__doc__.splitlines()[0])
    parser.add_argument(
        "job", nargs="?", choices=[S_WEEKLY_SYNC, S_DAILY_EPISODES], help="run one job and exit"
    )
    parser.add_argument("--source", help="weekly-sync: a URL or path instead of AVS_SYNC_SOURCE_URL")
    parser.add_argument("--force", action="store_true", help="weekly-sync: even if the version is unchanged")
    parser.add_argument(
        "--dry-run", action="store_true", help="weekly-sync: compute the summary, write nothing"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        settings = load_settings(SyncSettings)
    except ConfigurationError as exc:
        print(f"avs-sync: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    configure_logging(settings)
    configure_tracing(settings.service_name)
    try:
        asyncio.run(serve(settings) if args.job is None else run_once(settings, args))
    except ConfigurationError as exc:
        print(f"avs-sync: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    except AvsError as exc:
        print(f"avs-sync: {args.job or 'serve'} failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
