"""``avs dlq``: look into dead-letter queues and the image failure queue, and replay them."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from botocore.exceptions import BotoCoreError, ClientError
from tqdm import tqdm

from avs_cli.indexer_commands import target_options
from avs_shared.adapters.aws import AwsClients
from avs_shared.errors import AvsError, ConfigurationError
from avs_shared.ops import dlq
from avs_shared.ops.dlq_replay import Replayer, ReplayReport
from avs_shared.runtime import build_runtime
from avs_shared.runtime.logging import configure_logging
from avs_shared.settings import ServiceSettings, load_settings

T = TypeVar("T")


def _run(job: Callable[[AwsClients, ServiceSettings], Awaitable[T]]) -> T:
    quiet = {} if "AVS_LOG_LEVEL" in os.environ else {"log_level": "WARNING"}
    settings = load_settings(ServiceSettings, service_name="avs-cli", log_format="console", **quiet)
    configure_logging(settings)

    async def main() -> T:
        async with AwsClients(settings) as aws:
            return await job(aws, settings)

    try:
        return asyncio.run(main())
    except ConfigurationError:
        raise
    except (AvsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except (BotoCoreError, ClientError) as exc:
        raise click.ClickException(
            f"{exc}; is the stack running (`avs local up`), or did you mean --aws for the environment's AWS?"
        ) from exc


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


@click.group("dlq")
def dlq_group() -> None:
    """Dead-letter queues and the image failure queue: list, show, replay.

    \b
    avs dlq list                      every DLQ with its depth and oldest message
    avs dlq show QUEUE [--limit N]    decoded messages, error reasons, receive counts
    avs dlq replay QUEUE [--limit N] [--dry-run]
                                      send them back (a DLQ to its source queue,
                                      image-ingestion-failures as image-requested)
    """


@dlq_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@target_options
def list_command(as_json: bool) -> None:
    """Every dead-letter queue and the failure queue: depth, in flight, oldest age."""
    rows = _run(lambda aws, settings: dlq.list_queues(aws))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    click.echo(f"{'queue':<46} {'visible':>8} {'in flight':>10} {'oldest':>8}  replays to")
    for r in rows:
        oldest = _age(r.oldest_age_s) + ("" if r.oldest_exact or r.oldest_age_s is None else "+")
        target = r.target if r.kind == "dead-letter" else f"topic {r.target}"
        click.echo(f"{r.name:<46} {r.visible:>8} {r.in_flight:>10} {oldest:>8}  {target}")
    if any(not r.oldest_exact for r in rows):
        click.echo("(+: oldest of a sample of 10 messages; the queue holds more)")


@dlq_group.command("show")
@click.argument("queue")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="print the decoded messages as JSON")
@target_options
def show_command(queue: str, limit: int, as_json: bool) -> None:
    """Decoded messages of QUEUE (they stay in the queue)."""
    messages = _run(lambda aws, settings: dlq.show(aws, queue, limit=limit))
    if as_json:
        click.echo(json.dumps([m.to_dict() for m in messages], indent=2, ensure_ascii=False))
        return
    if not messages:
        click.echo(f"{queue} is empty")
        return
    for m in messages:
        click.echo(f"- {m.message_id}  sent {m.sent_at or '?'}  received {m.receive_count}x here")
        if m.event_type or m.event_id:
            click.echo(f"  event {m.event_type} {m.event_id}  anime {m.anime_id or '-'}")
        if m.error_type or m.error_reason:
            source = f" after {m.source_receive_count} deliveries" if m.source_receive_count else ""
            click.echo(f"  error {m.error_type or ''}{source}: {m.error_reason or ''}")
        if m.problem:
            click.echo(f"  problem: {m.problem}")
    click.echo(f"{len(messages)} message(s); --json shows the bodies")


@dlq_group.command("replay")
@click.argument("queue")
@click.option(
    "--limit", type=click.IntRange(1, 1_000_000), default=None, help="at most this many (default all)"
)
@click.option("--dry-run", is_flag=True, help="count what would be replayed; change nothing")
@target_options
def replay_command(queue: str, limit: int | None, dry_run: bool) -> None:
    """Send the messages of QUEUE back: a DLQ to its source queue, image-ingestion-failures
    as image-requested events. Safe to run twice; nothing is deleted before its copy is sent."""
    bar = tqdm(desc=f"replay {queue}", unit="msg", dynamic_ncols=True, disable=None)

    def progress(done: int, total: int) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    async def job(aws: AwsClients, settings: ServiceSettings) -> ReplayReport:
        publisher, _, _ = await build_runtime(aws, settings)
        return await Replayer(aws, publisher).replay(queue, limit=limit, dry_run=dry_run, progress=progress)

    try:
        report = _run(job)
    finally:
        bar.close()
    _print_report(report)


def _print_report(report: ReplayReport) -> None:
    verb = "would move" if report.dry_run else "moved"
    click.echo(
        f"{report.queue} -> {report.target} ({report.method}): {verb} {report.moved}, "
        f"skipped {report.skipped}, failed {report.failed}; {report.remaining} left in the queue"
    )
    for note in report.notes[:20]:
        click.echo(f"  {note}")
    if len(report.notes) > 20:
        click.echo(f"  ... and {len(report.notes) - 20} more notes")
    if report.failed:
        raise click.exceptions.Exit(1)


def register(group: click.Group) -> None:
    group.add_command(dlq_group)
