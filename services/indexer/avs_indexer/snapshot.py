"""Snapshots of the catalogue to S3 and restores from them (plan task 1.4).

A snapshot is a parallel scan of ``anime-enriched-data`` streamed into
``processed/enriched_anime_database.json`` by multipart upload: memory holds one part
(8 MiB by default), however large the table. The file has the enriched-database shape
that ``avs bootstrap`` and ``avs restore`` read, one entry per line, and carries over
the object's metadata (``source-commit-sha``).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from avs_indexer.bulk import BulkReport, Executor, Progress, parse_enriched, read_source, run_job
from avs_indexer.indexing import IndexWriter
from avs_indexer.ports import IndexerPorts
from avs_shared.topology import BUCKET, SNAPSHOT_KEY

log = structlog.get_logger(__name__)

MIN_PART = 5 * 1024 * 1024  # S3's minimum for every part but the last
_CARRIED = ("content-sha256",)  # describes other bytes: not carried into a new snapshot


@dataclass(frozen=True)
class SnapshotReport:
    key: str
    entries: int
    bytes: int
    parts: int
    metadata: dict[str, str]


async def create_snapshot(
    ports: IndexerPorts,
    *,
    segments: int = 4,
    part_size: int = 8 * 1024 * 1024,
    key: str = SNAPSHOT_KEY,
    progress: Progress | None = None,
) -> SnapshotReport:
    """Stream every entry to ``key``; an error aborts the upload and leaves the old snapshot."""
    part_size = max(part_size, MIN_PART)
    previous = await ports.objects.head(key) or {}
    metadata = {k: v for k, v in previous.items() if k not in _CARRIED}
    metadata["snapshot-created-at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    s3 = await ports.aws.client("s3")
    upload = await s3.create_multipart_upload(
        Bucket=BUCKET, Key=key, ContentType="application/json", Metadata=metadata
    )
    upload_id = upload["UploadId"]
    parts: list[dict[str, Any]] = []
    buffer = bytearray()
    total_bytes = 0
    count = 0

    async def flush(final: bool = False) -> None:
        nonlocal buffer, total_bytes
        if not buffer or (len(buffer) < part_size and not final):
            return
        number = len(parts) + 1
        resp = await s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(buffer)
        )
        parts.append({"PartNumber": number, "ETag": resp["ETag"]})
        total_bytes += len(buffer)
        buffer = bytearray()

    try:
        info = {"description": "snapshot of anime-enriched-data"}
        if "source-commit-sha" in metadata:
            info["sourceCommitSha"] = metadata["source-commit-sha"]
        header = {
            "license": {"name": "see the sources of each entry", "url": ""},
            "repository": "anime-vector-service",
            "lastUpdate": datetime.now(UTC).date().isoformat(),
            "enrichmentInfo": info,
        }
        buffer += json.dumps(header, ensure_ascii=False)[:-1].encode() + b',\n"data": [\n'
        async with contextlib.aclosing(ports.entries.scan(segments=segments)) as entries:
            async for entry in entries:
                if count:
                    buffer += b",\n"
                buffer += json.dumps(entry.to_json_dict(), ensure_ascii=False).encode()
                count += 1
                if progress is not None and count % 500 == 0:
                    progress(count, 0)
                await flush()
        buffer += b"\n]}\n"
        await flush(final=True)
        await s3.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        with contextlib.suppress(Exception):
            await s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
        raise
    log.info("snapshot written", key=key, entries=count, bytes=total_bytes, parts=len(parts))
    return SnapshotReport(key=key, entries=count, bytes=total_bytes, parts=len(parts), metadata=metadata)


async def restore(
    ports: IndexerPorts,
    source: str,
    *,
    chunk_size: int = 500,
    executor: Executor = "auto",
    progress: Progress | None = None,
) -> BulkReport:
    """Rebuild DynamoDB and the vector index from a snapshot (``s3://...`` or a path).

    Images are not requested again: a snapshot already holds our CDN URLs.
    """
    raw = await read_source(ports, source)
    parsed = parse_enriched(raw, source)
    return await run_job(
        ports,
        parsed,
        kind="restore",
        source=source,
        chunk_size=chunk_size,
        publish_images=False,
        executor=executor,
        progress=progress,
    )


async def reindex(ports: IndexerPorts, *, recreate: bool = True, progress: Progress | None = None) -> int:
    """Re-embed every entry of the table into a (re)created collection for the current model.

    The way out after changing the embedding model: the collection records its model
    and refuses another until this runs.
    """
    embedder = ports.embedder
    await ports.index.ensure_collection(embedder.model_name, embedder.dimension, recreate=recreate)
    writer = IndexWriter(
        entries=ports.entries,
        index=ports.index,
        embedder=ports.embedder,
        batch_size=ports.settings.embedding_batch_size,
        write_entries=False,
    )
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, 0)

    async with contextlib.aclosing(ports.entries.scan(segments=4)) as entries:
        stats = await writer.write(entries, on_batch=tick)
    await ports.index.optimize()
    return stats.entries
