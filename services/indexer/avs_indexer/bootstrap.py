"""The indexer's composition root: its queue consumers, cron jobs and start-up job.

``handler_specs`` / ``cron_jobs`` / ``startup_jobs`` follow the registry contract of the
all-in-one runner (see ``avs_cli.registry``); ``python -m avs_indexer`` runs the same
consumers in a process of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from importlib.resources import files
from typing import Any

import structlog

from avs_indexer.bulk import bootstrap, bulk_handler_spec
from avs_indexer.handlers import on_entry_approved
from avs_indexer.ports import IndexerPorts, indexer_ports
from avs_indexer.snapshot import create_snapshot
from avs_shared.events import EntryApproved
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.spec import HandlerSpec, MessageContext
from avs_shared.topology import Q_INDEXER_ENTRY_APPROVED, S_WEEKLY_SNAPSHOT

log = structlog.get_logger(__name__)

COMMIT_HANDLER = "indexer-entry-approved"


def sample_path() -> str:
    """The project's sample of well-known anime, shipped with the package."""
    return str(files("avs_indexer.sample_data").joinpath("anime_sample.json"))


def commit_spec(ports: IndexerPorts, *, concurrency: int = 4) -> HandlerSpec[EntryApproved]:
    async def handle(event: EntryApproved, ctx: MessageContext) -> Sequence[Any]:
        return await on_entry_approved(event, ctx, ports=ports)

    return HandlerSpec(
        COMMIT_HANDLER, Q_INDEXER_ENTRY_APPROVED, EntryApproved, handle, concurrency=concurrency
    )


def all_specs(ports: IndexerPorts) -> list[HandlerSpec[Any]]:
    return [commit_spec(ports), bulk_handler_spec(ports)]


def handler_specs(ctx: RunContext) -> list[HandlerSpec[Any]]:
    return all_specs(indexer_ports(ctx))


def cron_jobs(ctx: RunContext) -> dict[str, Callable[[datetime], Awaitable[object]]]:
    ports = indexer_ports(ctx)

    async def weekly_snapshot(due: datetime) -> object:
        return await create_snapshot(ports)

    return {S_WEEKLY_SNAPSHOT: weekly_snapshot}


def startup_jobs(ctx: RunContext) -> list[Callable[[], Awaitable[object]]]:
    """On an empty catalogue, load the project's sample so the API has something to search."""
    ports = indexer_ports(ctx)

    async def seed_sample() -> object:
        await ports.ready_index()
        async with contextlib.aclosing(ports.entries.scan(segments=1, fields=["id"], page_size=1)) as rows:
            async for _ in rows:
                log.info("catalogue not empty: no sample bootstrap")
                return None
        log.info("empty catalogue: bootstrapping the project's sample", file=sample_path())
        report = await bootstrap(ports, sample_path(), executor="remote")
        log.info("sample bootstrapped", entries=report.entries, job_id=report.job_id)
        return report

    return [seed_sample]
