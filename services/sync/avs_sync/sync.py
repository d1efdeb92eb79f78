"""The weekly sync: the offline database diffed against our catalogue, and merged.

:func:`run_sync` runs in three phases:

1. **Source**: is there a new version (commit, ETag, checksum vs the recorded one)?
   If so, download it (streamed, retried) or take the local file.
2. **Diff, no writes**: read the table once (projected parallel scan), read the whole
   file as a stream against it (in a worker thread), and plan. A structurally broken
   file raises here, so it writes nothing; so does a plan that would orphan an
   implausible share of the catalogue (a wrong or cut file), unless forced.
3. **Merge** (skipped by ``dry_run``), each step idempotent so a crashed run and a
   re-run converge: resurrect and orphan (vector payload first, then DynamoDB, so the
   DynamoDB state is the commit point a re-run reads), enqueue new anime under the
   processing lock, send review requests, record the version.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from opentelemetry import trace

from avs_shared.errors import Permanent
from avs_shared.events import AnimeNew, Envelope, derive_event_id
from avs_sync import actions
from avs_sync.catalogue import load_catalogue
from avs_sync.diff import Plan, diff_records, plan
from avs_sync.ports import SyncPorts
from avs_sync.reader import detect_format, read_records
from avs_sync.source import FetchedSource, SourceClient, SourceVersion, is_url, local_source
from avs_sync.summary import SyncSummary

log = structlog.get_logger(__name__)
tracer = trace.get_tracer("avs.sync")

Progress = Callable[[str, int, int], None]
"""``(phase, done, total)``; phases ``download`` (bytes), ``scan`` (entries, total 0),
``diff`` (bytes of the file), ``write`` (changes)."""


@dataclass(frozen=True)
class SyncOptions:
    """How to run one sync.

    Attributes
    ----------
    source:
        A URL or a local path; None = ``AVS_SYNC_SOURCE_URL``.
    force:
        Sync even when the version is unchanged, and even when the plan would orphan
        more than ``max_orphan_share`` of the active catalogue.
    dry_run:
        Compute the summary and write nothing (no locks, messages, updates, version).
    owner:
        Lock owner name of this run (a fresh one by default).
    """

    source: str | None = None
    force: bool = False
    dry_run: bool = False
    max_orphan_share: float = 0.05
    max_orphan_floor: int = 50
    owner: str | None = None
    concurrency: int = 16
    download_backoff_s: float = 1.0


async def run_sync(
    ports: SyncPorts, options: SyncOptions | None = None, *, progress: Progress | None = None
) -> SyncSummary:
    """One sync; returns its summary (also logged as ``sync.finished``).

    Raises
    ------
    avs_sync.reader.BrokenSource
        The file is truncated or not an offline database; nothing was written.
    avs_shared.errors.Permanent
        The source cannot be had (HTTP 404, missing file) or the plan looks implausible.
    avs_shared.errors.Retryable
        The download kept failing.
    """
    options = options or SyncOptions()
    source = options.source or ports.settings.sync_source_url
    # The root span of every new anime's journey: its anime-new is published inside it,
    # and the enricher, the review and the indexer continue the trace from there.
    with tracer.start_as_current_span(
        "sync", attributes={"avs.sync.source": source, "avs.sync.dry_run": options.dry_run}
    ) as span:
        summary = await _sync(ports, options, source, progress)
        span.set_attributes(
            {
                "avs.sync.version": summary.version or "",
                "avs.sync.new": summary.new,
                "avs.sync.orphaned": summary.orphaned,
                "avs.sync.review_requests": summary.review_requests,
            }
        )
        return summary


async def _sync(
    ports: SyncPorts, options: SyncOptions, source: str, progress: Progress | None
) -> SyncSummary:
    started = time.monotonic()
    settings = ports.settings
    summary = SyncSummary(source=source, dry_run=options.dry_run)
    client = SourceClient(
        attempts=settings.sync_download_attempts,
        timeout_s=settings.sync_download_timeout_seconds,
        backoff_s=options.download_backoff_s,
    )
    summary.previous_version = await ports.versions.recorded()
    probed = await _probe(client, source, settings.sync_source_url, settings.sync_version_url)
    if probed is not None and _unchanged(probed, summary, options):
        return _finish(summary, started)

    with tempfile.TemporaryDirectory(prefix="avs-sync-") as tmp:
        fetched = await _fetch(client, source, Path(tmp), progress)
        version = probed or SourceVersion("sha256", fetched.sha256)
        if probed is None and _unchanged(version, summary, options):
            return _finish(summary, started)
        changes = await _diff(ports, fetched, summary, progress)
    _check_plausible(changes, summary, options)
    if options.dry_run:
        await _dry_run(ports, changes, summary, version)
        return _finish(summary, started)
    await _merge(ports, changes, summary, version, options, progress)
    summary.version_recorded = await ports.versions.record(version.token)
    return _finish(summary, started)


# ----------------------------------------------------------------------------- phase 1
async def _probe(
    client: SourceClient, source: str, default_url: str, version_url: str
) -> SourceVersion | None:
    """The version known without downloading: the commit of ``latest`` (default source
    only), else the ETag; None for a local file or when neither answers."""
    if not is_url(source):
        return None
    if source == default_url and version_url:
        commit = await client.commit_of_latest(version_url)
        if commit is not None:
            return commit
    return await client.etag_of(source)


def _unchanged(version: SourceVersion, summary: SyncSummary, options: SyncOptions) -> bool:
    summary.version = version.token
    if version.token != summary.previous_version:
        return False
    if options.force:
        summary.notes.append(f"version {version.token} was already processed; forced to sync again")
        return False
    summary.skipped_unchanged = True
    return True


async def _fetch(client: SourceClient, source: str, tmp: Path, progress: Progress | None) -> FetchedSource:
    if is_url(source):
        on_bytes = (lambda done, total: progress("download", done, total)) if progress else None
        fetched = await client.download(source, tmp, progress=on_bytes)
    else:
        fetched = await asyncio.to_thread(local_source, Path(source))
    log.info("sync.source_ready", origin=fetched.origin, bytes=fetched.size, sha256=fetched.sha256)
    return fetched


# ----------------------------------------------------------------------------- phase 2
async def _diff(
    ports: SyncPorts, fetched: FetchedSource, summary: SyncSummary, progress: Progress | None
) -> Plan:
    fmt = await asyncio.to_thread(detect_format, fetched.path, fetched.name)
    catalogue = await load_catalogue(
        ports.entries,
        segments=ports.settings.sync_scan_segments,
        progress=(lambda n: progress("scan", n, 0)) if progress else None,
    )
    summary.entries = len(catalogue)
    on_bytes = (lambda done, total: progress("diff", done, total)) if progress else None
    if on_bytes is not None:
        on_bytes(0, 0)
    diff = await asyncio.to_thread(
        diff_records, catalogue, read_records(fetched.path, fmt, progress=on_bytes)
    )
    summary.records = diff.records
    summary.note_invalid(diff.invalid)
    summary.new_collisions = len(diff.new_collisions)
    if diff.header is not None:
        summary.last_update = diff.header.last_update.isoformat()
    changes = plan(catalogue, diff)
    await actions.confirm_missing_episodes(ports.entries, changes)
    summary.unchanged = changes.unchanged
    summary.already_orphaned = changes.already_orphaned
    log.info(
        "sync.planned",
        records=diff.records,
        entries=len(catalogue),
        new=len(changes.new),
        orphan=len(changes.orphan),
        resurrect=len(changes.resurrect),
        status_changed=len(changes.status_changed),
        missing_episodes=len(changes.episodes_candidates),
        merges=len(changes.merges),
        splits=len(changes.splits),
        invalid=len(diff.invalid),
    )
    return changes


def _check_plausible(changes: Plan, summary: SyncSummary, options: SyncOptions) -> None:
    active = summary.entries - summary.already_orphaned - len(changes.resurrect)
    limit = max(options.max_orphan_floor, int(active * options.max_orphan_share))
    if len(changes.orphan) <= limit:
        return
    message = (
        f"the source would orphan {len(changes.orphan)} of {active} active entries (limit {limit}); "
        f"a truncated or wrong file? ({summary.records} records read). Check the source, or pass --force"
    )
    if options.force:
        summary.notes.append(f"forced past the orphaning limit: {message}")
        return
    raise Permanent(message)


async def _dry_run(ports: SyncPorts, changes: Plan, summary: SyncSummary, version: SourceVersion) -> None:
    """Count what a real run would do; the only reads are of live locks."""
    held = await ports.locks.states([n.anime_id for n in changes.new])
    summary.new = len(changes.new) - len(held)
    summary.locked_elsewhere = len(held)
    summary.resurrected = len(changes.resurrect)
    summary.orphaned = len(changes.orphan)
    reviews = actions.review_requests(changes, source=summary.source, version=version.token)
    _count_reviews(summary, reviews)


# ----------------------------------------------------------------------------- phase 3
async def _merge(
    ports: SyncPorts,
    changes: Plan,
    summary: SyncSummary,
    version: SourceVersion,
    options: SyncOptions,
    progress: Progress | None,
) -> None:
    total = len(changes.resurrect) + len(changes.orphan) + len(changes.new)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress("write", done, total)

    step(0)
    now = datetime.now(UTC).replace(microsecond=0)
    index = await ports.ready_index() if changes.resurrect or changes.orphan else None
    if index is not None:
        result = await actions.resurrect(
            ports.entries, index, changes.resurrect, concurrency=options.concurrency
        )
        summary.resurrected = result.changed
        summary.vector_points_missing += result.missing_points
        summary.concurrent_changes += result.concurrent
        step(len(changes.resurrect))
        result = await actions.orphan(
            ports.entries, index, changes.orphan, now, concurrency=options.concurrency
        )
        summary.orphaned = result.changed
        summary.vector_points_missing += result.missing_points
        summary.concurrent_changes += result.concurrent
        step(len(changes.orphan))
    owner = options.owner or f"sync:{uuid.uuid4()}"
    enqueued = await enqueue_new(
        ports,
        [(n.anime_id, n.raw) for n in changes.new],
        owner=owner,
        event_key=version.token,
        reason="new",
        on_chunk=step,
    )
    summary.new, summary.locked_elsewhere = enqueued
    reviews = actions.review_requests(changes, source=summary.source, version=version.token)
    await ports.reviews.send(reviews)
    _count_reviews(summary, reviews)


async def enqueue_new(
    ports: SyncPorts,
    anime: Sequence[tuple[str, dict[str, object]]],
    *,
    owner: str,
    event_key: str,
    reason: str,
    on_chunk: Callable[[int], None] | None = None,
    chunk_size: int = 10,
) -> tuple[int, int]:
    """Lock and publish ``anime-new`` for each ``(anime_id, offline_record)``.

    Per chunk: take the locks, publish the events of the locks taken (one batch), mark
    them published. Event ids depend on the anime and ``event_key`` only, so a re-run
    publishes the same ids. Returns ``(enqueued, locked elsewhere)``.
    """
    enqueued = locked = 0
    for start in range(0, len(anime), chunk_size):
        chunk = anime[start : start + chunk_size]
        taken = await asyncio.gather(*(ports.locks.acquire(a, owner=owner) for a, _ in chunk))
        events: list[tuple[str, Envelope]] = []
        for (anime_id, record), ok in zip(chunk, taken, strict=True):
            if not ok:
                locked += 1
                continue
            sources = record.get("sources")
            payload = AnimeNew(
                anime_id=anime_id,
                sources=[str(s) for s in sources] if isinstance(sources, list) else [],
                offline_record=dict(record),
                reason=reason,
            )
            event_id = derive_event_id("anime-new", reason, anime_id, event_key)
            events.append((anime_id, payload.envelope(event_id=event_id)))
        if events:
            await actions.publish_all(ports.publisher, [e for _, e in events])
            await asyncio.gather(
                *(ports.locks.mark_published(a, owner=owner, event_id=e.event_id) for a, e in events)
            )
            enqueued += len(events)
        if on_chunk is not None:
            on_chunk(len(chunk))
    return enqueued, locked


def _count_reviews(summary: SyncSummary, reviews: list[Envelope]) -> None:
    summary.review_requests = len(reviews)
    for envelope in reviews:
        kind = str((envelope.payload or {}).get("kind"))
        summary.flagged[kind] = summary.flagged.get(kind, 0) + 1


def _finish(summary: SyncSummary, started: float) -> SyncSummary:
    summary.duration_s = time.monotonic() - started
    log.info("sync.finished", **summary.as_log())
    return summary
