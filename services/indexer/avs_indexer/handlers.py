"""The indexer's message handlers: the commit path and bulk-load chunks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import structlog

from avs_indexer.bulk_events import BulkChunk
from avs_indexer.indexing import IndexWriter, embed_points
from avs_indexer.jobs import BulkJobs
from avs_indexer.ports import IndexerPorts
from avs_shared.errors import Conflict, NotFound, Permanent, Retryable
from avs_shared.events import EntryApproved, Envelope, ImageRequested, RequestedImage, derive_event_id
from avs_shared.runtime.spec import MessageContext
from avs_shared.schema import AnimeEntry, image_urls
from avs_shared.topology import UPDATED_ENTRIES_PREFIX

log = structlog.get_logger(__name__)


def cache_key(anime_id: str) -> str:
    return f"anime:{anime_id}"


async def load_entry(ports: IndexerPorts, key: str) -> AnimeEntry:
    try:
        stored = await ports.objects.get(key)
    except NotFound as exc:
        raise Permanent(f"the approved entry {key!r} is not in S3 (expired staging object?)") from exc
    try:
        return AnimeEntry.from_json_dict(json.loads(stored.body))
    except ValueError as exc:  # JSON or validation error: no retry can fix it
        raise Permanent(f"the approved entry {key!r} is not a valid AnimeEntry: {exc}") from exc


async def on_entry_approved(
    event: EntryApproved, ctx: MessageContext, *, ports: IndexerPorts
) -> Sequence[Envelope]:
    """Commit a reviewed entry: DynamoDB (versioned), vectors, audit copy, cache, lock.

    Idempotent: the runtime skips a redelivered event; a rerun after a crash midway
    finds its own DynamoDB write (a replay of the same content is a no-op) and redoes
    the remaining idempotent steps.
    """
    entry = await load_entry(ports, event.entry_ref)
    if entry.id != event.anime_id:
        raise Permanent(f"entry {event.entry_ref!r} has id {entry.id}, the event says {event.anime_id}")
    entry = await ports.images.resolve_entry(entry)
    current = await ports.entries.get(entry.id, consistent=True)
    if current is not None and _same_content(current, entry):
        stored = current  # a rerun after a crash: the write happened, finish the other steps
    else:
        stored_version = None if current is None else current.version
        if event.base_version is not None and event.base_version != (stored_version or 0):
            # Someone committed in between: the reviewer saw another version. Writing
            # would silently undo that change, so refuse; the entry is reviewed again.
            raise Permanent(
                f"entry {entry.id} is at version {stored_version or 0}, the review was of version "
                f"{event.base_version}; review it again"
            )
        try:
            stored = await ports.entries.put(entry, expected_version=stored_version)
        except Conflict as exc:
            raise Retryable(f"entry {entry.id} changed while committing; retrying", retry_after_s=1) from exc
    # An image the ingestor stored between our map lookup and the put found no entry to
    # update; applying the map once more to the stored entry closes that window.
    if await ports.images.apply_to_stored_entry(ports.entries, stored.id) is not None:
        stored = await ports.entries.get(stored.id, consistent=True) or stored
    index = await ports.ready_index()
    await index.upsert(await embed_points(ports.embedder, [stored]))
    audit = json.dumps(stored.to_json_dict(), ensure_ascii=False).encode()
    await ports.objects.put(
        f"{UPDATED_ENTRIES_PREFIX}{stored.id}.json", audit, content_type="application/json"
    )
    await ports.cache.delete(cache_key(stored.id))
    await ports.locks.release(stored.id)
    log.info("entry committed", anime_id=stored.id, version=stored.version)
    return []


_VOLATILE = ("version", "updated_at")


def _same_content(a: AnimeEntry, b: AnimeEntry) -> bool:
    da, db = a.to_json_dict(), b.to_json_dict()
    for key in _VOLATILE:
        da.pop(key, None)
        db.pop(key, None)
    # The store always writes system_status (a GSI key), so an entry read back has it
    # even when the approved one left it at its default.
    da["system_status"], db["system_status"] = str(a.system_status), str(b.system_status)
    return da == db


def image_request_events(entries: Sequence[AnimeEntry], correlation_id: str) -> list[Envelope]:
    """One ``image-requested`` per anime carrying all of its image URLs, with an id
    derived from (anime, URLs) so a rerun publishes the same events and consumers
    deduplicate them. Anime without images get no event."""
    events: list[Envelope] = []
    for entry in entries:
        images = [
            RequestedImage(url=ref.url, kind=ref.kind, context={"label": ref.context})
            for ref in image_urls(entry)
        ]
        if not images:
            continue
        payload = ImageRequested(anime_id=entry.id, images=images)
        events.append(
            payload.envelope(
                event_id=derive_event_id("image-requested", entry.id, *sorted({i.url for i in images})),
                correlation_id=correlation_id,
            )
        )
    return events


async def on_bulk_chunk(event: BulkChunk, ctx: MessageContext, *, ports: IndexerPorts) -> Sequence[Envelope]:
    """Write one chunk of a bulk load and mark it finished in the job record."""
    jobs = BulkJobs(ports.aws)
    if await jobs.chunk_done(event.job_id, event.chunk_index):
        return []
    stored = await ports.objects.get(event.chunk_key)
    entries = [AnimeEntry.from_json_dict(d) for d in json.loads(stored.body)]
    index = await ports.ready_index()
    writer = IndexWriter(
        entries=ports.entries,
        index=index,
        embedder=ports.embedder,
        batch_size=ports.settings.embedding_batch_size,
        write_entries=event.write_entries,
    )
    await writer.write(entries)
    if event.publish_images:
        await publish_all(ports, image_request_events(entries, ctx.envelope.correlation_id))
    finished = await jobs.mark_done(event.job_id, event.chunk_index)
    if finished:
        await index.optimize()  # the last chunk builds the search index (a no-op on a server)
        log.info("bulk job finished", job_id=event.job_id)
    return []


async def publish_all(ports: IndexerPorts, events: Sequence[Envelope], concurrency: int = 4) -> None:
    """Publish many events with SNS PublishBatch (10 per call), a few calls at a time."""
    gate = asyncio.Semaphore(concurrency)
    parts = [events[i : i + 10] for i in range(0, len(events), 10)]

    async def one(part: Sequence[Envelope]) -> None:
        async with gate:
            await ports.publisher.publish_many(part)

    await asyncio.gather(*(one(p) for p in parts))
