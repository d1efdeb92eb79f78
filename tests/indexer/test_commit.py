"""The commit path: ``on_entry_approved`` writes an approved entry everywhere, exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from avs_indexer.bootstrap import COMMIT_HANDLER, commit_spec
from avs_indexer.documents import entry_texts
from avs_indexer.handlers import cache_key, on_entry_approved
from avs_indexer.indexing import TAGS_VECTOR, TEXT_VECTOR, IndexWriter
from avs_indexer.ports import IndexerPorts
from avs_shared.adapters.dynamo_image_map import DynamoImageMap, url_hash
from avs_shared.errors import Permanent
from avs_shared.events import EntryApproved, Envelope
from avs_shared.ports.vector import SearchFilter, SparseQuery, StatusScope
from avs_shared.runtime import Worker
from avs_shared.runtime.spec import MessageContext
from avs_shared.schema import AnimeEntry, ImagePlaceholder
from avs_shared.topology import (
    Q_INDEXER_ENTRY_APPROVED,
    T_ENRICHED,
    T_IMAGE_DEDUP,
    UPDATED_ENTRIES_PREFIX,
)

Drain = Callable[[str], Awaitable[list[Envelope]]]
ScanTable = Callable[[str], Awaitable[list[dict[str, Any]]]]

ANY = SearchFilter(status=StatusScope.ANY)
STORED_URL = "https://cdn.myanimelist.net/images/anime/4/19644.jpg"
FAILED_URL = "https://cdn.myanimelist.net/images/anime/gone.jpg"
UNKNOWN_URL = "https://cdn.myanimelist.net/images/anime/not-yet.jpg"
STORED_KEY = "images/" + "ab" * 32 + ".jpg"


@pytest.fixture
def approved(sample_by_title: dict[str, AnimeEntry]) -> AnimeEntry:
    """Cowboy Bebop as a reviewer approved it: three images, one stored, one failed, one unknown."""
    entry = sample_by_title["Cowboy Bebop"].model_copy(deep=True)
    entry.images.covers = [STORED_URL]
    entry.images.posters = [FAILED_URL]
    entry.images.banners = [UNKNOWN_URL]
    return entry


async def stage(ports: IndexerPorts, entry: AnimeEntry | bytes, name: str) -> str:
    key = f"staging/approved/{name}.json"
    body = entry if isinstance(entry, bytes) else entry.to_json().encode()
    await ports.objects.put(key, body, content_type="application/json")
    return key


def context(event: EntryApproved, event_id: str | None = None) -> MessageContext:
    return MessageContext(
        envelope=event.envelope(event_id=event_id),
        receive_count=1,
        queue=Q_INDEXER_ENTRY_APPROVED,
        handler=COMMIT_HANDLER,
    )


async def commit(ports: IndexerPorts, entry: AnimeEntry, name: str, base_version: int | None) -> None:
    event = EntryApproved(
        anime_id=entry.id, entry_ref=await stage(ports, entry, name), base_version=base_version
    )
    assert await on_entry_approved(event, context(event), ports=ports) == []


async def map_images(ports: IndexerPorts) -> None:
    """What the image ingestor leaves in the dedup map."""
    ddb = await ports.aws.client("dynamodb")
    now = str(int(time.time()))
    await ddb.put_item(
        TableName=T_IMAGE_DEDUP,
        Item={
            "source_url_hash": {"S": url_hash(STORED_URL)},
            "source_url": {"S": STORED_URL},
            "status": {"S": "STORED"},
            "key": {"S": STORED_KEY},
        },
    )
    await ddb.put_item(
        TableName=T_IMAGE_DEDUP,
        Item={
            "source_url_hash": {"S": url_hash(FAILED_URL)},
            "source_url": {"S": FAILED_URL},
            "status": {"S": "DOWNLOAD_FAILED"},
            "error_message": {"S": "HTTP 404 Not Found"},
            "last_attempt": {"N": now},
            "retry_count": {"N": "3"},
        },
    )


async def audit_copy(ports: IndexerPorts, anime_id: str) -> dict[str, Any]:
    body = (await ports.objects.get(f"{UPDATED_ENTRIES_PREFIX}{anime_id}.json")).body
    doc: dict[str, Any] = json.loads(body)
    return doc


async def test_an_approved_entry_is_committed_everywhere(ports: IndexerPorts, approved: AnimeEntry) -> None:
    await map_images(ports)
    await ports.cache.set(cache_key(approved.id), b"stale", ttl_s=300)
    assert await ports.locks.acquire(approved.id, owner="review-task-1")

    await commit(ports, approved, "bebop-1", base_version=0)

    stored = await ports.entries.get(approved.id, consistent=True)
    assert stored is not None and stored.version == 1 and stored.updated_at is not None
    cdn = f"https://{ports.settings.cdn_domain}/{STORED_KEY}"
    assert stored.images.covers == [cdn]
    assert stored.images.posters == [
        ImagePlaceholder(image_url=FAILED_URL, error_message="HTTP 404 Not Found")
    ]
    assert stored.images.banners == [UNKNOWN_URL]
    assert stored.synopsis == approved.synopsis

    index = ports.index
    [point] = await index.get([approved.id])
    assert point.payload["image"] == cdn
    assert point.payload["title_japanese"] == "カウボーイビバップ"
    hits = await index.search(SparseQuery(text="Cowboy Bebop"), limit=1)
    assert [h.id for h in hits] == [approved.id]
    # The vectors are the real model's embeddings of the committed entry's texts.
    [with_vectors] = await index.get([approved.id], with_vectors=True)
    texts = entry_texts(stored)
    expected = await ports.embedder.embed([texts.text, texts.tags])
    for row, name in enumerate((TEXT_VECTOR, TAGS_VECTOR)):
        assert float(np.dot(expected[row], np.asarray(with_vectors.vectors[name]))) > 0.98

    assert await audit_copy(ports, approved.id) == stored.to_json_dict()
    assert await ports.cache.get(cache_key(approved.id)) is None
    assert await ports.locks.holder(approved.id) is None


async def test_a_second_approval_of_a_changed_entry_makes_version_two(
    ports: IndexerPorts, approved: AnimeEntry
) -> None:
    await commit(ports, approved, "bebop-1", base_version=0)
    changed = approved.model_copy(deep=True)
    changed.genres = [*approved.genres, "Space Western"]
    changed.synopsis = "In 2071 a crew of broke bounty hunters chases bounties across the solar system."
    await ports.cache.set(cache_key(approved.id), b"version 1", ttl_s=300)
    assert await ports.locks.acquire(approved.id, owner="review-task-2")

    await commit(ports, changed, "bebop-2", base_version=1)

    stored = await ports.entries.get(approved.id, consistent=True)
    assert stored is not None and stored.version == 2
    assert stored.synopsis == changed.synopsis and "Space Western" in stored.genres
    [point] = await ports.index.get([approved.id])
    assert "Space Western" in point.payload["genres"]  # type: ignore[operator]
    assert await ports.index.count(ANY) == 1
    audit = await audit_copy(ports, approved.id)
    assert (audit["version"], audit["synopsis"]) == (2, changed.synopsis)
    assert await ports.cache.get(cache_key(approved.id)) is None
    assert await ports.locks.holder(approved.id) is None


async def test_an_approved_change_to_a_bulk_loaded_entry_makes_version_one(
    ports: IndexerPorts, sample_by_title: dict[str, AnimeEntry]
) -> None:
    original = sample_by_title["Cowboy Bebop"]  # the sample, like most files, carries no versions
    index = await ports.ready_index()
    await IndexWriter(entries=ports.entries, index=index, embedder=ports.embedder).write([original])
    loaded = await ports.entries.get(original.id, consistent=True)
    assert loaded is not None and loaded.version == 0
    changed = original.model_copy(deep=True)
    changed.synopsis = "A reviewed, corrected synopsis."

    await commit(ports, changed, "bebop-edit", base_version=0)

    stored = await ports.entries.get(original.id, consistent=True)
    assert stored is not None and (stored.version, stored.synopsis) == (1, changed.synopsis)
    assert await index.count(ANY) == 1


async def test_the_same_event_handled_twice_commits_once(
    ports: IndexerPorts, approved: AnimeEntry, scan_table: ScanTable
) -> None:
    event = EntryApproved(
        anime_id=approved.id, entry_ref=await stage(ports, approved, "bebop"), base_version=0
    )
    await on_entry_approved(event, context(event, "evt-1"), ports=ports)
    first = await ports.entries.get(approved.id, consistent=True)
    assert first is not None
    await ports.cache.set(cache_key(approved.id), b"refilled by a reader", ttl_s=300)

    await on_entry_approved(event, context(event, "evt-1"), ports=ports)

    again = await ports.entries.get(approved.id, consistent=True)
    assert again is not None
    assert (again.version, again.updated_at) == (1, first.updated_at)
    assert again.to_json_dict() == first.to_json_dict()
    assert len(await scan_table(T_ENRICHED)) == 1
    assert await ports.index.count(ANY) == 1
    assert await audit_copy(ports, approved.id) == first.to_json_dict()
    assert await ports.cache.get(cache_key(approved.id)) is None


@pytest.mark.parametrize(
    ("status_given", "base_version"),
    [(True, 0), (False, 0), (False, None)],
    ids=["status-given", "status-defaulted", "status-defaulted-unchecked"],
)
async def test_a_rerun_after_a_crash_after_the_dynamodb_write_finishes_the_commit(
    ports: IndexerPorts, approved: AnimeEntry, status_given: bool, base_version: int | None
) -> None:
    if not status_given:  # the store writes system_status even when the entry left it at its default
        doc = approved.to_json_dict()
        del doc["system_status"]
        approved = AnimeEntry.from_json_dict(doc)
    await map_images(ports)
    # The crashed run got as far as the versioned write (of the resolved entry) and no further.
    written = await ports.entries.put(await ports.images.resolve_entry(approved), expected_version=None)
    assert written.version == 1
    await ports.cache.set(cache_key(approved.id), b"stale", ttl_s=300)
    assert await ports.locks.acquire(approved.id, owner="review-task-1")
    await ports.ready_index()
    assert await ports.index.count(ANY) == 0

    await commit(ports, approved, "bebop", base_version=base_version)

    stored = await ports.entries.get(approved.id, consistent=True)
    assert stored is not None
    assert (stored.version, stored.updated_at) == (1, written.updated_at)
    assert [p.id for p in await ports.index.get([approved.id])] == [approved.id]
    assert await audit_copy(ports, approved.id) == stored.to_json_dict()
    assert await ports.cache.get(cache_key(approved.id)) is None
    assert await ports.locks.holder(approved.id) is None


async def test_an_approval_of_an_outdated_version_is_refused(
    ports: IndexerPorts, approved: AnimeEntry
) -> None:
    await commit(ports, approved, "bebop-1", base_version=0)
    reviewed_old = approved.model_copy(deep=True)
    reviewed_old.synopsis = "A reviewer's edit of the version before the last commit."
    await ports.cache.set(cache_key(approved.id), b"version 1", ttl_s=300)
    assert await ports.locks.acquire(approved.id, owner="review-task-2")

    with pytest.raises(Permanent, match=r"is at version 1, the review was of version 0; review it again"):
        await commit(ports, reviewed_old, "bebop-2", base_version=0)

    stored = await ports.entries.get(approved.id, consistent=True)
    assert stored is not None and stored.version == 1 and stored.synopsis == approved.synopsis
    assert (await audit_copy(ports, approved.id))["synopsis"] == approved.synopsis
    assert await ports.locks.holder(approved.id) == "review-task-2"


@pytest.mark.parametrize(
    ("staged", "message"),
    [
        (None, "is not in S3"),
        (b"{not json", "is not a valid AnimeEntry"),
        (b'{"id": "x", "type": "TV"}', "is not a valid AnimeEntry"),
        ("other-id", "the event says"),
    ],
    ids=["missing", "not-json", "invalid-entry", "id-mismatch"],
)
async def test_an_unusable_staged_entry_is_a_permanent_failure(
    ports: IndexerPorts,
    approved: AnimeEntry,
    scan_table: ScanTable,
    staged: bytes | str | None,
    message: str,
) -> None:
    if staged is None:
        ref = "staging/approved/expired.json"
    elif isinstance(staged, bytes):
        ref = await stage(ports, staged, "broken")
    else:
        ref = await stage(ports, approved.model_copy(update={"id": staged}), "other")
    event = EntryApproved(anime_id=approved.id, entry_ref=ref, base_version=0)

    with pytest.raises(Permanent, match=message):
        await on_entry_approved(event, context(event), ports=ports)

    assert await scan_table(T_ENRICHED) == []


async def test_a_published_approval_is_committed_by_a_worker(
    ports: IndexerPorts, approved: AnimeEntry, drain: Drain
) -> None:
    event = EntryApproved(
        anime_id=approved.id, entry_ref=await stage(ports, approved, "bebop"), base_version=0
    ).envelope()
    missing = EntryApproved(anime_id="gone", entry_ref="staging/approved/gone.json").envelope()
    await ports.ready_index()
    worker = Worker(
        [commit_spec(ports)],
        aws=ports.aws,
        settings=ports.settings,
        publisher=ports.publisher,
        idempotency=ports.idempotency,
        claim_check=ports.claim_check,
    )
    stats = worker.stats[COMMIT_HANDLER]
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await ports.publisher.publish(event)
        await ports.publisher.publish(missing)
        await _until(lambda: stats.processed == 1 and stats.dead_lettered == 1)
        await ports.publisher.publish(event)  # SNS delivers the same event again
        await _until(lambda: stats.duplicates == 1)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=30)

    stored = await ports.entries.get(approved.id, consistent=True)
    assert stored is not None and stored.version == 1
    assert await ports.index.count(ANY) == 1
    assert (await audit_copy(ports, approved.id))["version"] == 1
    assert (stats.processed, stats.duplicates, stats.dead_lettered, stats.failed) == (1, 1, 1, 0)
    dead = await drain(f"{Q_INDEXER_ENTRY_APPROVED}-dlq")
    assert [d.event_id for d in dead] == [missing.event_id]


async def _until(check: Callable[[], bool], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the worker did not get there in time")
        await asyncio.sleep(0.05)


class _MapReadBeforeTheIngestorWrote(DynamoImageMap):
    """The real dedup map, except that the commit's first read sees the map as it was
    before the ingestor stored the image (the race: the ingestor then finds no entry)."""

    async def resolve_entry(self, entry: AnimeEntry) -> AnimeEntry:
        return entry


async def test_an_image_stored_between_the_map_read_and_the_put_still_reaches_the_entry(
    ports: IndexerPorts, approved: AnimeEntry
) -> None:
    await map_images(ports)
    racing = dataclasses.replace(
        ports, images=_MapReadBeforeTheIngestorWrote(ports.aws, cdn_domain=ports.settings.cdn_domain)
    )

    await commit(racing, approved, "bebop-race", base_version=0)

    stored = await ports.entries.get(approved.id, consistent=True)
    cdn = f"https://{ports.settings.cdn_domain}/{STORED_KEY}"
    assert stored is not None and stored.images.covers == [cdn]
    assert stored.images.banners == [UNKNOWN_URL]
    [point] = await ports.index.get([approved.id])
    assert point.payload["image"] == cdn, "the vector payload is written from the updated entry"
    assert (await audit_copy(ports, approved.id))["images"]["covers"] == [cdn]
