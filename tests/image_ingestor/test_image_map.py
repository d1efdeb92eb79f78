"""The dedup map adapter (``image-deduplication-map``) on the moto server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from image_testkit import FakeClock

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.dynamo_image_map import DynamoImageMap, ImageRecord, url_hash
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.schema import AnimeEntry, ImagePlaceholder
from avs_shared.topology import T_IMAGE_DEDUP

A = "https://cdn.example/a.jpg"
B = "https://cdn.example/b.jpg"
C = "https://cdn.example/c.jpg"
KEY = "images/" + "cd" * 32 + ".jpg"


@pytest.fixture
async def image_map(provisioned: Provisioner, aws: AwsClients) -> DynamoImageMap:
    return DynamoImageMap(aws, cdn_domain="cdn.test", clock=FakeClock(time.time()))


def entry(covers: list[Any], character_images: list[Any]) -> AnimeEntry:
    return AnimeEntry.from_json_dict(
        {
            "id": "00000000-0000-4000-8000-000000000001",
            "title": "Map Test",
            "type": "TV",
            "status": "FINISHED",
            "sources": ["https://myanimelist.net/anime/1"],
            "images": {"covers": covers},
            "characters": [{"name": "Spike", "role": "Main", "images": character_images}],
        }
    )


async def test_records_are_written_and_read_back(image_map: DynamoImageMap, aws: AwsClients) -> None:
    await image_map.record_stored(A, key=KEY, content_type="image/jpeg")
    failed = await image_map.record_failed(B, error_message="HTTP 404 Not Found", retry_count=2, ttl_s=3600)
    found = await image_map.lookup_many([A, B, C, A])
    assert set(found) == {A, B}
    assert (found[A].status, found[A].key, found[A].content_type) == ("STORED", KEY, "image/jpeg")
    assert found[B] == failed and (failed.retry_count, failed.error_message) == (2, "HTTP 404 Not Found")
    ddb = await aws.client("dynamodb")
    item = (await ddb.get_item(TableName=T_IMAGE_DEDUP, Key={"source_url_hash": {"S": url_hash(B)}}))["Item"]
    assert int(item["ttl"]["N"]) == int(item["last_attempt"]["N"]) + 3600, "the table's TTL attribute"


async def test_a_success_always_wins_over_a_failure(image_map: DynamoImageMap) -> None:
    await image_map.record_failed(A, error_message="timeout", retry_count=1, ttl_s=3600)
    await image_map.record_stored(A, key=KEY, content_type="image/jpeg")
    late_failure = await image_map.record_failed(
        A, error_message="a slower worker failed", retry_count=2, ttl_s=60
    )
    assert late_failure.status == "STORED" and late_failure.key == KEY
    assert (await image_map.lookup(A)).status == "STORED"  # type: ignore[union-attr]


async def test_expired_failures_count_as_absent(image_map: DynamoImageMap) -> None:
    clock = image_map._clock
    assert isinstance(clock, FakeClock)
    await image_map.record_failed(A, error_message="gone", retry_count=1, ttl_s=100)
    clock.advance(99)
    assert await image_map.lookup(A) is not None
    clock.advance(1)
    assert await image_map.lookup(A) is None
    resolved = await image_map.resolve_entry(entry([A], []))
    assert resolved.images.covers == [A], "an expired failure leaves the URL for a fresh try"


async def test_resolve_entry_replaces_urls_and_placeholders(image_map: DynamoImageMap) -> None:
    await image_map.record_stored(A, key=KEY, content_type="image/jpeg")
    await image_map.record_failed(B, error_message="HTTP 404 Not Found", retry_count=1, ttl_s=3600)
    old = ImagePlaceholder(image_url=A, error_message="failed once").to_json_dict()
    original = entry([A, B, C, old], [B, A])

    resolved = await image_map.resolve_entry(original)

    cdn = f"https://cdn.test/{KEY}"
    missing = ImagePlaceholder(image_url=B, error_message="HTTP 404 Not Found")
    assert resolved.images.covers == [cdn, missing, C, cdn]
    assert resolved.characters[0].images == [missing, cdn]
    assert original.images.covers[0] == A, "the input is not changed"
    changes = image_map.entry_changes(original.to_json_dict(), await image_map.lookup_many([A, B, C]))
    assert changes == {
        "images.covers[0]": cdn,
        "images.covers[1]": missing.to_json_dict(),
        "images.covers[3]": cdn,
        "characters[0].images[0]": missing.to_json_dict(),
        "characters[0].images[1]": cdn,
    }
    assert image_map.entry_changes(resolved.to_json_dict(), await image_map.lookup_many([A, B])) == {}


async def test_apply_to_stored_entry_looks_the_urls_up_itself(
    image_map: DynamoImageMap, aws: AwsClients
) -> None:
    entries = DynamoEntryStore(aws, objects=S3ObjectStore(aws))
    stored = await entries.put(entry([A, C], [A]), expected_version=None)
    assert await image_map.apply_to_stored_entry(entries, stored.id) is None, "nothing in the map yet"
    await image_map.record_stored_many(
        [ImageRecord(source_url=A, status="STORED", key=KEY, content_type="image/jpeg")]
    )

    version = await image_map.apply_to_stored_entry(entries, stored.id)

    after = await entries.get(stored.id, consistent=True)
    assert after is not None and version == after.version == stored.version + 1
    assert after.images.covers == [f"https://cdn.test/{KEY}", C]
    assert after.characters[0].images == [f"https://cdn.test/{KEY}"]
    assert await image_map.apply_to_stored_entry(entries, "00000000-0000-4000-8000-0000000000ff") is None
