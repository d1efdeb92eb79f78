"""Operator commands of the indexer: bootstrap, snapshot, restore, reindex, and test-data generation."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from tqdm import tqdm

from avs_cli.settings import apply_local_environment
from avs_shared.errors import AvsError, ConfigurationError
from avs_shared.runtime.logging import configure_logging
from avs_shared.settings import ServiceSettings, load_settings
from avs_shared.topology import BUCKET

F = TypeVar("F", bound=Callable[..., Any])


def target_options(fn: F) -> F:
    """``--aws`` uses the environment as it is (real AWS / LocalStack); otherwise the local stack."""

    @click.option("--aws", "use_aws", is_flag=True, help="use the environment's AWS (no local defaults)")
    @click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="local state (.data)")
    @functools.wraps(fn)
    def wrapper(*args: Any, use_aws: bool, data_dir: Path | None, **kwargs: Any) -> Any:
        if not use_aws:
            apply_local_environment(data_dir=data_dir)
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class _Bar:
    """A tqdm bar driven by (done, total) callbacks; total 0 means unknown."""

    def __init__(self, desc: str, unit: str = "entry") -> None:
        self._bar = tqdm(desc=desc, unit=unit, dynamic_ncols=True, smoothing=0.1)

    def __call__(self, done: int, total: int) -> None:
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def _run(job: Callable[[Any], Awaitable[Any]]) -> Any:
    from avs_indexer.ports import open_indexer_ports

    quiet = {} if "AVS_LOG_LEVEL" in os.environ else {"log_level": "WARNING"}  # the bar tells progress
    settings = load_settings(ServiceSettings, service_name="avs-cli", log_format="console", **quiet)
    configure_logging(settings)

    async def main() -> Any:
        async with open_indexer_ports(settings) as ports:
            return await job(ports)

    try:
        return asyncio.run(main())
    except ConfigurationError:
        raise
    except AvsError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--file", "source", required=True, help="the enriched database: a path or s3://bucket/key")
@click.option("--source-commit-sha", default=None, help="offline-database version it was built from")
@click.option("--chunk-size", default=500, show_default=True, type=click.IntRange(10, 5000))
@click.option(
    "--workers",
    type=click.Choice(["auto", "local", "remote"]),
    default="auto",
    show_default=True,
    help="local: this command indexes; remote: running indexers do; auto: remote if a running "
    "process owns the embedded vector shard",
)
@target_options
def bootstrap(source: str, source_commit_sha: str | None, chunk_size: int, workers: str) -> None:
    """Load an enriched database into DynamoDB and the vector index, and request its images.

    Validates the whole file first (a broken file writes nothing), uploads it to
    processed/enriched_anime_database.json, then indexes it in chunks. Safe to re-run:
    a killed bootstrap resumes where it stopped.
    """
    from avs_indexer.bulk import bootstrap as run_bootstrap

    bar = _Bar("bootstrap")
    try:
        report = _run(
            lambda ports: run_bootstrap(
                ports,
                source,
                source_commit_sha=source_commit_sha,
                chunk_size=chunk_size,
                executor=workers,  # type: ignore[arg-type]
                progress=bar,
            )
        )
    finally:
        bar.close()
    click.echo(
        f"bootstrap {report.job_id}: {report.entries} entries in {report.chunks} chunks "
        f"({report.resumed_chunks} already done), workers: {report.executor}, "
        f"file {'uploaded' if report.uploaded else 'already uploaded'}"
    )
    for note in report.notes:
        click.echo(f"  {note}")


@click.command()
@target_options
def snapshot() -> None:
    """Write every entry to processed/enriched_anime_database.json (streamed, multipart)."""
    from avs_indexer.snapshot import create_snapshot

    bar = _Bar("snapshot")
    try:
        report = _run(lambda ports: create_snapshot(ports, progress=bar))
    finally:
        bar.close()
    click.echo(
        f"snapshot s3://{BUCKET}/{report.key}: {report.entries} entries, "
        f"{report.bytes} bytes in {report.parts} parts"
    )


@click.command()
@click.option("--from", "source", required=True, help="a snapshot: s3://bucket/key or a path")
@click.option("--workers", type=click.Choice(["auto", "local", "remote"]), default="auto", show_default=True)
@target_options
def restore(source: str, workers: str) -> None:
    """Rebuild DynamoDB and the vector index from a snapshot (on an empty stack)."""
    from avs_indexer.snapshot import restore as run_restore

    bar = _Bar("restore")
    try:
        report = _run(lambda ports: run_restore(ports, source, executor=workers, progress=bar))  # type: ignore[arg-type]
    finally:
        bar.close()
    click.echo(f"restore {report.job_id}: {report.entries} entries in {report.chunks} chunks")


@click.command()
@click.option("--keep", is_flag=True, help="keep the collection and upsert (same model only)")
@target_options
def reindex(keep: bool) -> None:
    """Re-embed every entry into a fresh collection for the configured model.

    Needed after changing the embedding model; stop `avs run` first (it owns the shard).
    """
    from avs_indexer.snapshot import reindex as run_reindex

    bar = _Bar("reindex")
    try:
        count = _run(lambda ports: run_reindex(ports, recreate=not keep, progress=bar))
    finally:
        bar.close()
    click.echo(f"reindexed {count} entries")


@click.command("backfill-names")
@target_options
def backfill_names() -> None:
    """Add the exact-name keys to anime indexed before they existed (no re-embedding).

    Until every point has them, text search pins exact titles with a slower BM25 probe
    (the API logs a warning). Stop `avs run` first (it owns the shard). Safe to re-run.
    """
    from avs_indexer.names import backfill_name_keys

    bar = _Bar("backfill-names", unit="anime")

    async def job(ports: Any) -> int:
        index = await ports.ready_index()
        return await backfill_name_keys(index, progress=bar)

    try:
        count = _run(job)
    finally:
        bar.close()
    click.echo(f"wrote name keys into {count} anime")


@click.group()
def dev() -> None:
    """Tools for developers: synthetic data."""


@dev.command()
@click.option("--count", required=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="the enriched file to write")
@click.option("--offline-out", type=click.Path(path_type=Path), default=None, help="also the offline records")
def generate(count: int, seed: int, out: Path, offline_out: Path | None) -> None:
    """Write a synthetic, schema-valid enriched database (and optionally its offline file)."""
    from avs_indexer.synthetic import generate_offline_records, write_enriched_file, write_offline_file

    written = write_enriched_file(out, count, seed=seed)
    click.echo(f"wrote {written.records} entries to {written.path} ({written.size_bytes} bytes)")
    if offline_out is not None:
        off = write_offline_file(offline_out, generate_offline_records(count, seed=seed))
        click.echo(f"wrote {off.records} offline records to {off.path} ({off.size_bytes} bytes)")


def register(group: click.Group) -> None:
    for command in (bootstrap, snapshot, restore, reindex, backfill_names, dev):
        group.add_command(command)
