"""Operator commands of the sync: ``avs sync`` and ``avs schedule-daily``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import click
from tqdm import tqdm

from avs_cli.indexer_commands import target_options
from avs_shared.errors import AvsError, ConfigurationError
from avs_shared.ports.vector import IndexOwnedElsewhere
from avs_shared.runtime.logging import configure_logging
from avs_shared.settings import load_settings

_PHASES = {
    "download": ("download", "B", True),
    "scan": ("read catalogue", "entry", False),
    "diff": ("diff", "B", True),
    "write": ("merge", "change", False),
}


class _Bars:
    """One tqdm bar per phase, opened on the phase's first report."""

    def __init__(self) -> None:
        self._bars: dict[str, tqdm[Any]] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        bar = self._bars.get(phase)
        if bar is None:
            desc, unit, scale = _PHASES.get(phase, (phase, "it", False))
            bar = tqdm(desc=desc, unit=unit, unit_scale=scale, dynamic_ncols=True, smoothing=0.1)
            self._bars[phase] = bar
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


def _run(job: Callable[[Any], Awaitable[Any]]) -> Any:
    from avs_sync.ports import open_sync_ports
    from avs_sync.settings import SyncSettings

    quiet = {} if "AVS_LOG_LEVEL" in os.environ else {"log_level": "WARNING"}  # the bars tell progress
    settings = load_settings(SyncSettings, service_name="avs-cli", log_format="console", **quiet)
    configure_logging(settings)

    async def main() -> Any:
        async with open_sync_ports(settings) as ports:
            return await job(ports)

    try:
        return asyncio.run(main())
    except ConfigurationError:
        raise
    except IndexOwnedElsewhere as exc:
        raise click.ClickException(
            f"{exc}. `avs run` runs the sync itself (the weekly-sync schedule); stop it to sync by hand, "
            "or look first with --dry-run (which needs no vector index)"
        ) from exc
    except AvsError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("sync")
@click.option("--source", default=None, help="a URL or a local path (default: AVS_SYNC_SOURCE_URL, `latest`)")
@click.option(
    "--force",
    is_flag=True,
    help="sync even if this version was already processed (and past the orphaning limit)",
)
@click.option("--dry-run", is_flag=True, help="compute and print the summary; write nothing")
@target_options
def sync(source: str | None, force: bool, dry_run: bool) -> None:
    """Diff the offline database against the catalogue and merge (the weekly-sync job).

    New anime are locked and announced on anime-new; anime gone from the source are
    orphaned (never deleted), returning ones resurrected; status changes, missing
    episodes, merges and splits become review requests. A broken file writes nothing.
    """
    from avs_sync.sync import SyncOptions, run_sync

    bars = _Bars()
    try:
        summary = _run(
            lambda ports: run_sync(
                ports, SyncOptions(source=source, force=force, dry_run=dry_run), progress=bars
            )
        )
    finally:
        bars.close()
    click.echo("\n".join(summary.lines()))


@click.command("schedule-daily")
@target_options
def schedule_daily() -> None:
    """Schedule the episodes airing in the next 24 h and enqueue the premieres (the daily job)."""
    from avs_sync.scheduler import schedule_daily as run_schedule

    report = _run(lambda ports: run_schedule(ports))
    click.echo("\n".join(report.lines()))


def register(group: click.Group) -> None:
    for command in (sync, schedule_daily):
        group.add_command(command)
