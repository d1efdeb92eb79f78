"""``avs local up | down | status``: the embedded stack (moto server, redis-server, topology)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from botocore.exceptions import BotoCoreError, ClientError

from avs_cli.settings import apply_local_environment, load_local_settings
from avs_cli.stack import LocalStack, ServerState, UpReport
from avs_shared.adapters.provision import ResourceStatus
from avs_shared.topology import TOPOLOGY

F = TypeVar("F", bound=Callable[..., Any])


def stack_options(fn: F) -> F:
    """``--data-dir``, ``--moto-port``, ``--redis-port``: shared by ``local *`` and ``run``."""
    fn = click.option(
        "--redis-port",
        type=click.IntRange(1, 65535),
        help="Run/use redis-server on this port (AVS_REDIS_PORT) instead of AVS_REDIS_URL.",
    )(fn)
    fn = click.option(
        "--moto-port",
        type=click.IntRange(1, 65535),
        help="Port of the moto server (AVS_MOTO_PORT, default 4566).",
    )(fn)
    fn = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where pid files, logs and Redis data live (AVS_DATA_DIR, default .data).",
    )(fn)
    return fn


def open_stack(data_dir: Path | None, moto_port: int | None, redis_port: int | None) -> LocalStack:
    """Apply the options and local defaults to the environment, then read the settings."""
    apply_local_environment(data_dir=data_dir, moto_port=moto_port, redis_port=redis_port)
    return LocalStack(load_local_settings())


@click.group("local")
def local() -> None:
    """The embedded local stack: moto on 127.0.0.1:4566, redis-server on 6379, every resource."""


@local.command("up")
@stack_options
def up(data_dir: Path | None, moto_port: int | None, redis_port: int | None) -> None:
    """Start moto and redis-server unless they already answer, then provision the topology.

    Idempotent: a second run starts nothing and changes nothing. With AWS_ENDPOINT_URL
    exported (LocalStack), moto is not started and that endpoint is provisioned.
    """
    stack = open_stack(data_dir, moto_port, redis_port)
    echo_up(bring_up(stack))


def bring_up(stack: LocalStack) -> UpReport:
    click.echo(f"local stack: data in {stack.data_dir.resolve()}, AWS endpoint {stack.endpoint}")
    return stack.up()


def echo_up(report: UpReport) -> None:
    for server in report.servers:
        click.echo(_server_line(server))
    p = report.provision
    total = len(p.created) + len(p.updated) + len(p.unchanged)
    click.echo(
        f"topology: {total} resources: {len(p.created)} created, {len(p.updated)} updated, "
        f"{len(p.unchanged)} unchanged"
    )
    for label in p.created:
        click.echo(f"  created {label}")
    for label in p.updated:
        click.echo(f"  updated {label}")


@local.command("down")
@stack_options
def down(data_dir: Path | None, moto_port: int | None, redis_port: int | None) -> None:
    """Stop the servers that `avs local up` (or `avs run`) started; others are left alone."""
    stack = open_stack(data_dir, moto_port, redis_port)
    for name in ("moto", "redis"):
        click.echo(stack.stop(name))
    click.echo("moto keeps no state on disk: the next `avs local up` provisions a fresh topology")


@local.command("status")
@stack_options
def status(data_dir: Path | None, moto_port: int | None, redis_port: int | None) -> None:
    """Every resource of the catalogue with its state and queue depths; exit 1 if anything is off."""
    stack = open_stack(data_dir, moto_port, redis_port)
    servers = stack.server_states()
    problems = [f"{s.name} is down at {s.where}" for s in servers if not s.up]
    rows: list[ResourceStatus] = []
    if servers[0].up:
        try:
            rows = asyncio.run(stack.inspect())
        except (BotoCoreError, ClientError, TimeoutError) as exc:
            problems.append(f"cannot inspect {stack.endpoint}: {exc or type(exc).__name__}")
    known = bool(rows)
    if not known:
        rows = _catalogue_rows()
        problems.append(f"the state of the {len(rows)} resources is unknown while AWS does not answer")

    for server in servers:
        click.echo(_server_line(server))
    click.echo()
    click.echo(_table(rows, known=known))
    if known:
        problems += [
            f"{r.kind} {r.name} is missing" + (f" ({r.detail})" if r.detail else "")
            for r in rows
            if r.state == "missing"
        ]
        problems += [f"{r.kind} {r.name}: {r.detail}" for r in rows if r.state == "error"]
    click.echo()
    if not problems:
        answering = ", ".join(f"{s.name} at {s.where}" for s in servers)
        click.echo(f"all {len(rows)} resources ok; answering: {answering}")
        return
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    click.echo("fix: run `avs local up` (starts what is down, creates what is missing)", err=True)
    raise SystemExit(1)


def _server_line(server: ServerState) -> str:
    pid = f" pid {server.pid}" if server.pid else ""
    detail = f" ({server.detail})" if server.detail else ""
    return f"{server.name:<6} {server.state:<8} {server.where}{pid}{detail}"


def _catalogue_rows() -> list[ResourceStatus]:
    """Every resource of the catalogue, state not known (for when AWS does not answer)."""
    t = TOPOLOGY
    names: list[tuple[str, str]] = [("s3", t.bucket.name)]
    names += [("dynamodb", x.name) for x in t.tables]
    names += [("sns", x.name) for x in t.topics]
    names += [("sqs", x.name) for x in t.queues]
    names += [("states", x.name) for x in t.state_machines]
    names += [("cron", x.name) for x in t.schedules]
    names += [("schedule-group", x.name) for x in t.schedule_groups]
    return [ResourceStatus(kind, name, "error") for kind, name in names]


def _table(rows: Sequence[ResourceStatus], *, known: bool) -> str:
    header = ("KIND", "NAME", "STATE", "VISIBLE", "IN-FLIGHT", "DLQ", "DETAIL")
    body = [
        (
            r.kind,
            r.name,
            "?" if not known else r.state.upper() if r.state != "ok" else "ok",
            _depth(r, "visible"),
            _depth(r, "in_flight"),
            _depth(r, "dlq"),
            r.detail,
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *body]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return "\n".join(lines)


def _depth(row: ResourceStatus, key: str) -> str:
    value = row.depths.get(key)
    return "" if value is None else str(value)
