"""S3ObjectStore against the moto server."""

from __future__ import annotations

import pytest

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.errors import NotFound


@pytest.fixture
def store(provisioned: Provisioner, aws: AwsClients) -> S3ObjectStore:
    return S3ObjectStore(aws)


async def test_put_then_get_returns_body_type_and_metadata(store: S3ObjectStore) -> None:
    await store.put(
        "images/abc.jpg",
        b"\xff\xd8jpeg bytes",
        content_type="image/jpeg",
        metadata={"source_url": "https://cdn.example/a.jpg"},
    )

    got = await store.get("images/abc.jpg")

    assert got.key == "images/abc.jpg"
    assert got.body == b"\xff\xd8jpeg bytes"
    assert got.content_type == "image/jpeg"
    assert got.metadata == {"source_url": "https://cdn.example/a.jpg"}


async def test_head_returns_metadata_or_none(store: S3ObjectStore) -> None:
    await store.put("processed/x.json", b"{}", metadata={"source-commit-sha": "abc123"})

    assert await store.head("processed/x.json") == {"source-commit-sha": "abc123"}
    assert await store.head("processed/missing.json") is None


async def test_get_of_a_missing_key_raises_not_found(store: S3ObjectStore) -> None:
    with pytest.raises(NotFound, match=r"missing\.json"):
        await store.get("staging/missing.json")


async def test_delete_removes_the_object(store: S3ObjectStore) -> None:
    await store.put("staging/tmp.json", b"{}")
    await store.delete("staging/tmp.json")

    assert await store.head("staging/tmp.json") is None
    await store.delete("staging/tmp.json")  # deleting again is fine
