"""Bulk loads (bootstrap, restore, reindex) by scatter-gather over SQS.

1. The whole input is validated first: a broken file stops with a clear error and
   writes nothing.
2. The entries are split into chunks staged in S3 (``staging/bulk/<job>/chunk-N.json``)
   and a job record lists them (``anime-bulk-jobs``). The job id is derived from the
   input's bytes, so running the same load again finds the same job and its progress.
3. One ``bulk-chunk`` message per unfinished chunk goes to ``indexer-bulk-chunks``;
   any number of indexer workers take chunks in parallel (embedding overlapped with
   writes inside each, see :mod:`avs_indexer.indexing`).
4. The command either processes the chunks itself, or, when another process owns the
   embedded vector shard (a running ``avs run``), leaves them to that process and
   follows the progress.

Killing a load and running it again finishes the job without redoing finished chunks
and without duplicates: writes are upserts, finished chunks are recorded in a set, and
image requests carry ids derived from (anime, URL).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import ValidationError

from avs_indexer.bulk_events import BulkChunk
from avs_indexer.handlers import on_bulk_chunk
from avs_indexer.jobs import BulkJobs, JobState
from avs_indexer.ports import IndexerPorts
from avs_shared.errors import Permanent
from avs_shared.events import derive_event_id
from avs_shared.ports.vector import IndexOwnedElsewhere
from avs_shared.runtime.spec import HandlerSpec
from avs_shared.runtime.worker import Worker
from avs_shared.schema import AnimeEntry
from avs_shared.topology import (
    BULK_PREFIX,
    Q_INDEXER_BULK_CHUNKS,
    SNAPSHOT_KEY,
    SOURCE_COMMIT_METADATA,
)

log = structlog.get_logger(__name__)

Kind = Literal["bootstrap", "restore", "reindex"]
Executor = Literal["auto", "local", "remote"]
Progress = Callable[[int, int], None]
BULK_HANDLER = "indexer-bulk-chunk"
_MAX_REPORTED_ERRORS = 20


class InvalidInputFile(Permanent):
    """The input file is not a valid enriched database; nothing was written."""

    def __init__(self, source: str, problems: Sequence[str], total: int) -> None:
        shown = "\n".join(f"  - {p}" for p in problems[:_MAX_REPORTED_ERRORS])
        more = (
            f"\n  ... and {total - len(problems[:_MAX_REPORTED_ERRORS])} more"
            if total > _MAX_REPORTED_ERRORS
            else ""
        )
        super().__init__(
            f"{source} is not a valid enriched anime database ({total} problem(s)); nothing was written. "
            f"Fix the file and run the command again:\n{shown}{more}"
        )
        self.problems = list(problems)
        self.total = total


@dataclass
class ParsedFile:
    raw: bytes
    root: dict[str, Any]
    entries: list[dict[str, Any]]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def source_commit_sha(self) -> str | None:
        info = self.root.get("enrichmentInfo") or {}
        for holder in (self.root, info if isinstance(info, dict) else {}):
            for key in ("sourceCommitSha", "source_commit_sha", "source-commit-sha"):
                value = holder.get(key)
                if isinstance(value, str) and value:
                    return value
        return None


def parse_enriched(raw: bytes, source: str) -> ParsedFile:
    """Parse and validate every entry; raises :class:`InvalidInputFile` listing the problems."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputFile(source, [f"not JSON: {exc}"], 1) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InvalidInputFile(source, ["the root must be an object with a `data` list of entries"], 1)
    problems: list[str] = []
    total = 0
    seen: dict[str, int] = {}
    for position, item in enumerate(doc["data"]):
        label = f"data[{position}]"
        try:
            entry = AnimeEntry.from_json_dict(item)
        except (ValidationError, TypeError, ValueError) as exc:
            total += 1
            if len(problems) < _MAX_REPORTED_ERRORS:
                problems.append(
                    f"{label} (id {item.get('id') if isinstance(item, dict) else '?'}): {_short(exc)}"
                )
            continue
        if entry.id in seen:
            total += 1
            if len(problems) < _MAX_REPORTED_ERRORS:
                problems.append(f"{label}: duplicate id {entry.id} (also data[{seen[entry.id]}])")
        seen.setdefault(entry.id, position)
    if total:
        raise InvalidInputFile(source, problems, total)
    root = {k: v for k, v in doc.items() if k != "data"}
    return ParsedFile(raw=raw, root=root, entries=doc["data"])


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errs = exc.errors()
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errs[:3]]
        return "; ".join(parts) + (f" (+{len(errs) - 3} more)" if len(errs) > 3 else "")
    return str(exc)


async def read_source(ports: IndexerPorts, source: str) -> bytes:
    """The bytes of a local path or an ``s3://bucket/key`` URL."""
    if source.startswith("s3://"):
        bucket, _, key = source[5:].partition("/")
        if not bucket or not key:
            raise Permanent(f"{source!r} is not an s3://bucket/key URL")
        s3 = await ports.aws.client("s3")
        try:
            resp = await s3.get_object(Bucket=bucket, Key=key)
        except Exception as exc:  # botocore's error classes are generated per client
            raise Permanent(f"cannot read {source}: {exc}") from exc
        async with resp["Body"] as body:
            return bytes(await body.read())
    return await asyncio.to_thread(_read_file, Path(source))


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        raise Permanent(f"{path} does not exist or is not a file")
    return path.read_bytes()


@dataclass
class BulkReport:
    job_id: str
    kind: Kind
    entries: int
    chunks: int
    resumed_chunks: int
    executor: str
    uploaded: bool = False
    notes: list[str] = field(default_factory=list)


async def stage_job(
    ports: IndexerPorts, parsed: ParsedFile, *, kind: Kind, source: str, chunk_size: int
) -> JobState:
    """Stage the chunks in S3 (missing ones only) and record the job (unless it exists)."""
    job_id = f"{kind}-{parsed.digest[:20]}-{chunk_size}"
    jobs = BulkJobs(ports.aws)
    existing = await jobs.get(job_id)
    chunks = [parsed.entries[i : i + chunk_size] for i in range(0, len(parsed.entries), chunk_size)]
    gate = asyncio.Semaphore(8)

    async def stage(index: int, chunk: list[dict[str, Any]]) -> None:
        if existing is not None and index in existing.done:
            return
        key = chunk_key(job_id, index)
        async with gate:
            if await ports.objects.head(key) is None:
                body = json.dumps(chunk, ensure_ascii=False).encode()
                await ports.objects.put(key, body, content_type="application/json")

    await asyncio.gather(*(stage(i, c) for i, c in enumerate(chunks)))
    return await jobs.create(
        job_id,
        kind=kind,
        source=source,
        chunks=len(chunks),
        entries=len(parsed.entries),
        chunk_size=chunk_size,
    )


def chunk_key(job_id: str, index: int) -> str:
    return f"{BULK_PREFIX}{job_id}/chunk-{index:05d}.json"


async def enqueue(ports: IndexerPorts, state: JobState, *, publish_images: bool, write_entries: bool) -> int:
    """Send one message per unfinished chunk; returns how many were sent.

    The event ids are new for every run: a killed run leaves the idempotency claims of
    its in-flight chunks IN_PROGRESS for the queue's visibility timeout (15 minutes),
    and messages with the same ids would wait for them, then be dead-lettered. A chunk
    finished meanwhile is skipped by the handler (the job record), not by the claim.
    """
    sqs = await ports.aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName=Q_INDEXER_BULK_CHUNKS))["QueueUrl"]
    pending = state.pending()
    run = uuid.uuid4().hex
    for start in range(0, len(pending), 10):
        entries = []
        for index in pending[start : start + 10]:
            size = min(state.chunk_size, state.entries - index * state.chunk_size)
            envelope = BulkChunk(
                job_id=state.job_id,
                chunk_index=index,
                chunk_key=chunk_key(state.job_id, index),
                entries=size,
                publish_images=publish_images,
                write_entries=write_entries,
            ).envelope(event_id=derive_event_id(state.job_id, str(index), run), correlation_id=state.job_id)
            entries.append({"Id": str(index), "MessageBody": envelope.to_json()})
        resp = await sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if resp.get("Failed"):
            raise Permanent(f"could not enqueue chunks: {resp['Failed']}")
    return len(pending)


def bulk_handler_spec(ports: IndexerPorts, *, concurrency: int = 2) -> HandlerSpec[BulkChunk]:
    async def handle(event: BulkChunk, ctx: Any) -> Sequence[Any]:
        return await on_bulk_chunk(event, ctx, ports=ports)

    return HandlerSpec(BULK_HANDLER, Q_INDEXER_BULK_CHUNKS, BulkChunk, handle, concurrency=concurrency)


async def follow(
    ports: IndexerPorts, job_id: str, progress: Progress | None, *, poll_s: float = 0.5
) -> JobState:
    """Poll the job record until every chunk is finished.

    A chunk that lands in the dead-letter queue will never finish: stop with an error
    that says where to look instead of waiting forever.
    """
    jobs = BulkJobs(ports.aws)
    dead_before = await _dead_chunks(ports)
    while True:
        state = await jobs.get(job_id)
        if state is None:
            raise Permanent(f"bulk job {job_id} disappeared")
        if progress is not None:
            progress(state.done_entries, state.entries)
        if state.finished:
            return state
        dead = await _dead_chunks(ports)
        if dead > dead_before:
            raise Permanent(
                f"{dead - dead_before} chunk(s) of job {job_id} failed for good and went to "
                f"{Q_INDEXER_BULK_CHUNKS}-dlq ({len(state.done)}/{state.chunks} chunks done); see the "
                "logs for the cause, fix it, then run the same command again (finished chunks are kept)"
            )
        await asyncio.sleep(poll_s)


async def _dead_chunks(ports: IndexerPorts) -> int:
    sqs = await ports.aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName=f"{Q_INDEXER_BULK_CHUNKS}-dlq"))["QueueUrl"]
    attrs = await sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    values = attrs["Attributes"]
    return int(values.get("ApproximateNumberOfMessages", 0)) + int(
        values.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


async def _choose_executor(ports: IndexerPorts, executor: Executor) -> str:
    if executor != "auto":
        return executor
    try:
        await ports.ready_index()
    except IndexOwnedElsewhere:
        return "remote"  # a running indexer owns the embedded shard: it does the work
    return "local"


async def run_job(
    ports: IndexerPorts,
    parsed: ParsedFile,
    *,
    kind: Kind,
    source: str,
    chunk_size: int = 500,
    publish_images: bool = True,
    write_entries: bool = True,
    executor: Executor = "auto",
    progress: Progress | None = None,
) -> BulkReport:
    """Stage, enqueue and process (or follow) one bulk job until it is finished."""
    mode = await _choose_executor(ports, executor)
    state = await stage_job(ports, parsed, kind=kind, source=source, chunk_size=chunk_size)
    report = BulkReport(state.job_id, kind, state.entries, state.chunks, len(state.done), mode)
    if state.finished:
        report.notes.append("already complete: nothing to do")
        if progress is not None:
            progress(state.entries, state.entries)
        return report
    await enqueue(ports, state, publish_images=publish_images, write_entries=write_entries)
    if mode == "remote":
        await follow(ports, state.job_id, progress)
        return report
    stop = asyncio.Event()
    worker = Worker(
        [bulk_handler_spec(ports)],
        aws=ports.aws,
        settings=ports.settings,
        publisher=ports.publisher,
        idempotency=ports.idempotency,
        claim_check=ports.claim_check,
    )
    running = asyncio.create_task(worker.run(stop))
    following = asyncio.create_task(follow(ports, state.job_id, progress))
    done, _ = await asyncio.wait({running, following}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    await running
    if following not in done:
        following.cancel()
        raise Permanent(f"the local worker stopped before job {state.job_id} finished; run the command again")
    following.result()
    return report


async def bootstrap(
    ports: IndexerPorts,
    source: str,
    *,
    source_commit_sha: str | None = None,
    chunk_size: int = 500,
    executor: Executor = "auto",
    progress: Progress | None = None,
) -> BulkReport:
    """``avs bootstrap``: validate, upload the file as the current snapshot, load, request images."""
    raw = await read_source(ports, source)
    parsed = await asyncio.to_thread(parse_enriched, raw, source)
    sha = source_commit_sha or parsed.source_commit_sha()
    uploaded = await upload_snapshot(ports, parsed, sha)
    report = await run_job(
        ports,
        parsed,
        kind="bootstrap",
        source=source,
        chunk_size=chunk_size,
        executor=executor,
        progress=progress,
    )
    report.uploaded = uploaded
    return report


async def upload_snapshot(ports: IndexerPorts, parsed: ParsedFile, source_commit_sha: str | None) -> bool:
    """Put the file at ``processed/enriched_anime_database.json`` unless the same bytes are there."""
    current = await ports.objects.head(SNAPSHOT_KEY)
    if current is not None and current.get("content-sha256") == parsed.digest:
        if source_commit_sha is None or current.get(SOURCE_COMMIT_METADATA) == source_commit_sha:
            return False
    metadata = {"content-sha256": parsed.digest}
    if source_commit_sha:
        metadata[SOURCE_COMMIT_METADATA] = source_commit_sha
    await ports.objects.put(SNAPSHOT_KEY, parsed.raw, content_type="application/json", metadata=metadata)
    return True
