"""The entry side: image completion and the indexer's commit converge in either order, and the
ingestor's targeted update never loses a concurrent write."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from image_testkit import ImageServer, MakeKit, jpeg, png

from avs_indexer.bootstrap import COMMIT_HANDLER, sample_path
from avs_indexer.handlers import image_request_events, on_entry_approved
from avs_indexer.ports import IndexerPorts
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.dynamo_image_map import DynamoImageMap
from avs_shared.adapters.dynamo_locks import DynamoLockTable
from avs_shared.adapters.embedding.hashing import HashingEmbedder
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.errors import Retryable
from avs_shared.events import EntryApproved, ImageRequested
from avs_shared.runtime import build_runtime
from avs_shared.runtime.spec import MessageContext
from avs_shared.schema import AnimeEntry, ImagePlaceholder
from avs_shared.settings import ServiceSettings
from avs_shared.topology import Q_INDEXER_ENTRY_APPROVED, T_ENRICHED

VOLATILE = ("id", "version", "updated_at")


@pytest.fixture
async def indexer(
    make: MakeKit, aws: AwsClients, settings: ServiceSettings, tmp_path: Path
) -> AsyncIterator[IndexerPorts]:
    """The indexer's commit path on the same moto, a fresh edge shard and the hashing embedder."""
    publisher, idempotency, claim_check = await build_runtime(aws, settings)
    objects = S3ObjectStore(aws)
    index = EdgeVectorIndex(tmp_path / "qdrant-edge" / "anime")
    cache = RedisCache(settings.redis_url)
    yield IndexerPorts(
        settings=settings,
        aws=aws,
        objects=objects,
        entries=DynamoEntryStore(aws, objects=objects),
        index=index,
        embedder=HashingEmbedder(),
        cache=cache,
        locks=DynamoLockTable(aws),
        images=DynamoImageMap(aws, cdn_domain=settings.cdn_domain),
        publisher=publisher,
        idempotency=idempotency,
        claim_check=claim_check,
    )
    await index.close()
    await cache.close()


def sample(title: str) -> AnimeEntry:
    data = json.loads(Path(sample_path()).read_text(encoding="utf-8"))["data"]
    return next(AnimeEntry.from_json_dict(d) for d in data if d["title"] == title)


def on_loopback(entry: AnimeEntry, server: ImageServer, anime_id: str) -> AnimeEntry:
    """``entry`` under ``anime_id`` with every image on the loopback server: good images,
    one that is gone (404) and one HTML page; the first three characters keep images."""
    doc = entry.to_json_dict()
    doc["id"] = anime_id
    good = [server.image(f"/img/{n}.png", png(500 + n)) for n in range(6)]
    gone = server.url("/img/gone.jpg")  # no route: 404
    html = server.image("/img/page.jpg", b"<html><body>sorry</body></html>" * 8, "image/jpeg")
    doc["images"] = {"covers": [good[0], gone], "posters": [good[1]], "banners": [html]}
    characters = doc.get("characters") or []
    assert isinstance(characters, list) and len(characters) >= 3
    for n, character in enumerate(characters):
        assert isinstance(character, dict)
        character["images"] = [good[2 + n], good[0]] if n < 3 else []
    doc["characters"] = characters
    return AnimeEntry.from_json_dict(doc)


async def commit(ports: IndexerPorts, entry: AnimeEntry) -> None:
    key = f"staging/approved/{entry.id}.json"
    await ports.objects.put(key, entry.to_json().encode(), content_type="application/json")
    event = EntryApproved(anime_id=entry.id, entry_ref=key, base_version=None)
    ctx = MessageContext(
        event.envelope(), receive_count=1, queue=Q_INDEXER_ENTRY_APPROVED, handler=COMMIT_HANDLER
    )
    assert await on_entry_approved(event, ctx, ports=ports) == []


def requested(entry: AnimeEntry) -> ImageRequested:
    """The event the indexer publishes for ``entry`` (its own function)."""
    [envelope] = image_request_events([entry], "corr-1")
    assert envelope.payload is not None
    return ImageRequested.model_validate(envelope.payload)


def content(entry: AnimeEntry) -> dict[str, Any]:
    doc = entry.to_json_dict()
    for key in VOLATILE:
        doc.pop(key, None)
    return doc


async def test_both_orders_of_image_completion_and_commit_give_the_same_entry(
    make: MakeKit, indexer: IndexerPorts, image_server: ImageServer
) -> None:
    base = sample("Cowboy Bebop")
    images_first = on_loopback(base, image_server, "00000000-0000-4000-8000-00000000000a")
    commit_first = on_loopback(base, image_server, "00000000-0000-4000-8000-00000000000b")
    kit = make()

    # Commit first: nothing is in the dedup map yet, so the entry keeps its source URLs
    # and the ingestor rewrites them afterwards.
    await commit(indexer, commit_first)
    stored = await indexer.entries.get(commit_first.id, consistent=True)
    assert stored is not None and stored.images.covers[0] == image_server.url("/img/0.png")
    await kit.ingestor.ingest(requested(commit_first))

    # Images first: the entry is not committed, so the ingestor only fills the map and
    # the commit resolves the URLs from it.
    report = await make().ingestor.ingest(requested(images_first))
    assert report.entry_version is None
    await commit(indexer, images_first)

    a = await indexer.entries.get(images_first.id, consistent=True)
    b = await indexer.entries.get(commit_first.id, consistent=True)
    assert a is not None and b is not None
    assert content(a) == content(b)
    cdn = f"https://{kit.settings.cdn_domain}/images/"
    assert isinstance(a.images.covers[0], str) and a.images.covers[0].startswith(cdn)
    assert a.images.covers[1] == ImagePlaceholder(
        image_url=image_server.url("/img/gone.jpg"), error_message="HTTP 404 Not Found"
    )
    assert isinstance(a.images.banners[0], ImagePlaceholder)
    assert all(isinstance(i, str) and i.startswith(cdn) for c in a.characters[:3] for i in c.images)
    assert a.characters[0].images[1] == a.images.covers[0], "one URL, one CDN URL wherever it is used"


async def test_an_entry_committed_before_its_images_is_updated_in_place(
    make: MakeKit, indexer: IndexerPorts, image_server: ImageServer
) -> None:
    entry = on_loopback(sample("Cowboy Bebop"), image_server, "00000000-0000-4000-8000-00000000000c")
    await commit(indexer, entry)
    before = await indexer.entries.get(entry.id, consistent=True)
    assert before is not None and before.images.covers[0] == image_server.url("/img/0.png")
    await indexer.cache.set(f"anime:{entry.id}", b"stale copy", ttl_s=300)
    kit = make()

    report = await kit.ingestor.ingest(requested(entry))

    after = await indexer.entries.get(entry.id, consistent=True)
    assert after is not None and report.entry_version == after.version
    assert after.version == before.version + 1, "all replacements in one update"
    ddb = await indexer.aws.client("dynamodb")
    raw = (await ddb.get_item(TableName=T_ENRICHED, Key={"anime_id": {"S": entry.id}}))["Item"]
    assert "_avs_content_sha256" not in raw, "a targeted UpdateItem, not a rewrite of the item"
    assert after.synopsis == before.synopsis and after.title == before.title
    assert after.images.covers[0] == kit.images.replacement(report.outcomes[0].record)  # type: ignore[arg-type]
    assert await indexer.cache.get(f"anime:{entry.id}") is None, "the cached copy is dropped"
    # A second identical event changes nothing.
    again = await kit.ingestor.ingest(requested(entry))
    assert again.entry_version is None
    assert (await indexer.entries.get(entry.id, consistent=True)).version == after.version  # type: ignore[union-attr]


class RacingStore(DynamoEntryStore):
    """The real store; before its first image update another writer changes the entry."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raced = False

    async def update_fields(
        self, anime_id: str, set: Mapping[str, object], remove: Sequence[str] = (), **kwargs: Any
    ) -> int:
        if not self.raced and any(path.startswith(("images", "characters")) for path in set):
            self.raced = True
            await super().update_fields(anime_id, {"synopsis": "rewritten by a concurrent commit"})
        return await super().update_fields(anime_id, set, remove, **kwargs)


async def test_a_concurrent_write_is_never_lost(
    make: MakeKit, indexer: IndexerPorts, image_server: ImageServer, aws: AwsClients
) -> None:
    entry = on_loopback(sample("Cowboy Bebop"), image_server, "00000000-0000-4000-8000-00000000000d")
    await commit(indexer, entry)
    store = RacingStore(aws, objects=S3ObjectStore(aws))
    kit = make(entries=store)

    report = await kit.ingestor.ingest(requested(entry))

    after = await indexer.entries.get(entry.id, consistent=True)
    assert store.raced and after is not None
    assert after.synopsis == "rewritten by a concurrent commit"
    assert isinstance(after.images.covers[0], str) and "/images/" in after.images.covers[0]
    assert report.entry_version == after.version == 3  # commit, the racing write, the images


async def test_an_entry_whose_characters_live_in_s3_is_rewritten_whole(
    make: MakeKit, indexer: IndexerPorts, image_server: ImageServer, aws: AwsClients
) -> None:
    entry = on_loopback(sample("Cowboy Bebop"), image_server, "00000000-0000-4000-8000-00000000000e")
    small_items = DynamoEntryStore(aws, objects=S3ObjectStore(aws), overflow_threshold_bytes=3_300)
    stored = await small_items.put(entry, expected_version=None)
    ddb = await aws.client("dynamodb")
    raw = (await ddb.get_item(TableName=T_ENRICHED, Key={"anime_id": {"S": entry.id}}))["Item"]
    assert "characters" in raw["_avs_overflow"]["M"] and "characters" not in raw, "the setup overflows"
    kit = make(entries=small_items)

    await kit.ingestor.ingest(requested(entry))

    after = await small_items.get(entry.id, consistent=True)
    assert after is not None and after.version == stored.version + 1
    raw = (await ddb.get_item(TableName=T_ENRICHED, Key={"anime_id": {"S": entry.id}}))["Item"]
    assert "_avs_content_sha256" in raw, "rewritten by a versioned put (an update would drop the hash)"
    assert all("/images/" in i for c in after.characters[:3] for i in c.images if isinstance(i, str))
    assert content(after) == content(await kit.images.resolve_entry(entry))


async def test_a_placeholder_becomes_the_cdn_url_once_a_retry_succeeds(
    make: MakeKit, indexer: IndexerPorts, image_server: ImageServer
) -> None:
    entry = on_loopback(sample("Cowboy Bebop"), image_server, "00000000-0000-4000-8000-00000000000f")
    kit = make(image_failure_retry_after_seconds=60)
    await kit.ingestor.ingest(requested(entry))
    await commit(indexer, entry)
    gone_url = image_server.url("/img/gone.jpg")
    committed = await indexer.entries.get(entry.id, consistent=True)
    assert committed is not None and isinstance(committed.images.covers[1], ImagePlaceholder)

    image_server.image("/img/gone.jpg", jpeg(77), "image/jpeg")  # it is back
    kit.clock.advance(61)
    await kit.ingestor.ingest(requested(entry))

    after = await indexer.entries.get(entry.id, consistent=True)
    assert after is not None
    record = await kit.images.lookup(gone_url)
    assert record is not None and record.status == "STORED"
    assert after.images.covers[1] == kit.images.cdn_url(record.key or "")


# ----------------------------------------------------------------------------- the search payload


def model_of(indexer: IndexerPorts) -> tuple[str, int]:
    """The model the indexer's collection is built with (the hashing embedder here)."""
    return indexer.embedder.model_name, indexer.embedder.dimension


async def payload_of(indexer: IndexerPorts, anime_id: str) -> dict[str, Any]:
    [point] = await indexer.index.get([anime_id])
    return dict(point.payload)


async def test_an_image_ingested_after_the_commit_updates_the_search_payload(
    make: MakeKit, indexer: IndexerPorts, image_server: ImageServer
) -> None:
    entry = on_loopback(sample("Cowboy Bebop"), image_server, "00000000-0000-4000-8000-000000000010")
    await commit(indexer, entry)
    before = await payload_of(indexer, entry.id)
    assert before["image"] == image_server.url("/img/0.png"), "the commit indexed the source URL"
    [vectors_before] = await indexer.index.get([entry.id], with_vectors=True)
    kit = make(index=indexer.index, index_model=model_of(indexer))

    report = await kit.ingestor.ingest(requested(entry))

    stored = await indexer.entries.get(entry.id, consistent=True)
    assert stored is not None and report.entry_version == stored.version and report.payload_updated
    cdn = stored.images.covers[0]
    assert isinstance(cdn, str) and cdn.startswith(f"https://{kit.settings.cdn_domain}/images/")
    after = await payload_of(indexer, entry.id)
    assert after["image"] == cdn
    assert {k: v for k, v in after.items() if k != "image"} == {
        k: v for k, v in before.items() if k != "image"
    }, "only the image changes"
    [vectors_after] = await indexer.index.get([entry.id], with_vectors=True)
    assert vectors_after.vectors == vectors_before.vectors, "a payload-only update"
    # The same event again: the entry and the payload agree, nothing is written.
    again = await kit.ingestor.ingest(requested(entry))
    assert again.entry_version is None and not again.payload_updated
    assert (await payload_of(indexer, entry.id))["image"] == cdn


async def test_a_failed_cover_moves_the_search_image_to_the_next_url(
    make: MakeKit, indexer: IndexerPorts, image_server: ImageServer
) -> None:
    entry = on_loopback(sample("Cowboy Bebop"), image_server, "00000000-0000-4000-8000-000000000011")
    doc = entry.to_json_dict()
    gone, poster = image_server.url("/img/gone.jpg"), image_server.url("/img/1.png")
    doc["images"] = {"covers": [gone], "posters": [poster], "banners": []}
    entry = AnimeEntry.from_json_dict(doc)
    await commit(indexer, entry)
    assert (await payload_of(indexer, entry.id))["image"] == gone
    kit = make(index=indexer.index, index_model=model_of(indexer))

    await kit.ingestor.ingest(requested(entry))

    stored = await indexer.entries.get(entry.id, consistent=True)
    assert stored is not None and isinstance(stored.images.covers[0], ImagePlaceholder)
    assert (await payload_of(indexer, entry.id))["image"] == stored.images.posters[0] != poster


async def test_an_entry_not_in_the_index_is_updated_without_error(
    make: MakeKit, indexer: IndexerPorts, image_server: ImageServer
) -> None:
    entry = on_loopback(sample("Cowboy Bebop"), image_server, "00000000-0000-4000-8000-000000000012")
    stored = await indexer.entries.put(entry, expected_version=None)  # in DynamoDB, not indexed yet
    kit = make(index=indexer.index, index_model=model_of(indexer))

    report = await kit.ingestor.ingest(requested(entry))
    uncommitted = await kit.ingestor.ingest(
        ImageRequested(anime_id="00000000-0000-4000-8000-000000000013", images=requested(entry).images)
    )

    assert report.entry_version == stored.version + 1 and not report.payload_updated
    assert uncommitted.entry_version is None and not uncommitted.payload_updated
    assert await indexer.index.count() == 0, "no point is created by a payload update"


async def test_a_failed_payload_update_keeps_the_entry_update_and_the_retry_fixes_it(
    make: MakeKit, indexer: IndexerPorts, image_server: ImageServer
) -> None:
    entry = on_loopback(sample("Cowboy Bebop"), image_server, "00000000-0000-4000-8000-000000000014")
    await commit(indexer, entry)
    # An index opened for another model refuses the collection (a real adapter error).
    broken = make(index=indexer.index, index_model=("another-model", indexer.embedder.dimension))

    with pytest.raises(Retryable, match="search payload"):
        await broken.ingestor.ingest(requested(entry))

    stored = await indexer.entries.get(entry.id, consistent=True)
    assert stored is not None and isinstance(stored.images.covers[0], str)
    assert stored.images.covers[0].startswith("https://"), "the entry update is kept"
    assert (await payload_of(indexer, entry.id))["image"] == image_server.url("/img/0.png")

    # The redelivered message: the entry is already up to date, the payload is fixed.
    report = await make(index=indexer.index, index_model=model_of(indexer)).ingestor.ingest(requested(entry))
    assert report.entry_version is None and report.payload_updated
    assert (await payload_of(indexer, entry.id))["image"] == stored.images.covers[0]
