"""The claim check against S3 on the moto server."""

from __future__ import annotations

import json

import pytest

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.errors import NotFound, Permanent
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.events.envelope import Envelope


def envelope(size: int) -> Envelope:
    return Envelope.new("anime-new", {"anime_id": "a1", "blob": "x" * size})


@pytest.fixture
def store(provisioned: Provisioner, aws: AwsClients) -> S3ObjectStore:
    return S3ObjectStore(aws)


async def test_a_small_payload_travels_inline(store: S3ObjectStore) -> None:
    check = ClaimCheck(store, threshold_bytes=10_000)
    env = envelope(1_000)

    sent = await check.offload(env)

    assert sent is env
    assert await store.head(check.key_for(env.event_id)) is None, "nothing written to S3"
    assert await check.resolve(sent) == env.payload


async def test_a_big_payload_is_offloaded_and_resolved(store: S3ObjectStore) -> None:
    check = ClaimCheck(store, threshold_bytes=10_000)
    env = envelope(50_000)

    sent = await check.offload(env)

    assert sent.payload is None
    assert sent.payload_ref == f"staging/claims/{env.event_id}.json"
    assert len(sent.to_json()) < 1_000
    assert (sent.event_id, sent.correlation_id, sent.event_type) == (
        env.event_id,
        env.correlation_id,
        env.event_type,
    )
    stored = await store.get(sent.payload_ref)
    assert stored.content_type == "application/json"
    assert json.loads(stored.body) == env.payload
    # The reference survives the wire and resolves to the original payload.
    assert await check.resolve(Envelope.from_json(sent.to_json())) == env.payload


async def test_offloading_the_same_event_twice_writes_the_same_key(store: S3ObjectStore) -> None:
    check = ClaimCheck(store, threshold_bytes=10_000)
    env = envelope(50_000)
    assert (await check.offload(env)).payload_ref == (await check.offload(env)).payload_ref


async def test_resolving_a_missing_or_broken_reference_fails_clearly(store: S3ObjectStore) -> None:
    check = ClaimCheck(store)
    missing = envelope(10).model_copy(update={"payload": None, "payload_ref": "staging/claims/gone.json"})
    with pytest.raises(NotFound, match=r"gone\.json"):
        await check.resolve(missing)

    await store.put("staging/claims/list.json", b"[1, 2]")
    not_object = missing.model_copy(update={"payload_ref": "staging/claims/list.json"})
    with pytest.raises(Permanent, match="not a JSON object"):
        await check.resolve(not_object)
