"""DynamoIdempotencyStore against the moto server: every claim state and transition.

Two store instances stand for two worker processes (each holds its own claim tokens).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_idempotency import DynamoIdempotencyStore
from avs_shared.adapters.provision import Provisioner
from avs_shared.ports.storage import ClaimState, IdempotencyStore, RenewableClaims
from avs_shared.topology import T_IDEMPOTENCY

TTL = 3600
KEY = "enricher#evt-1"
Stores = tuple[DynamoIdempotencyStore, DynamoIdempotencyStore]


@pytest.fixture
def stores(
    provisioned: Provisioner, aws: AwsClients
) -> tuple[DynamoIdempotencyStore, DynamoIdempotencyStore]:
    return DynamoIdempotencyStore(aws, ttl_s=TTL), DynamoIdempotencyStore(aws, ttl_s=TTL)


async def item(aws: AwsClients, key: str) -> dict[str, Any] | None:
    ddb = await aws.client("dynamodb")
    resp = await ddb.get_item(
        TableName=T_IDEMPOTENCY, Key={"idempotency_key": {"S": key}}, ConsistentRead=True
    )
    found: dict[str, Any] | None = resp.get("Item")
    return found


def test_the_store_implements_the_ports(aws: AwsClients) -> None:
    store: IdempotencyStore = DynamoIdempotencyStore(aws)
    assert isinstance(store, RenewableClaims)


async def test_a_fresh_key_is_claimed_in_progress_with_a_lease_and_a_ttl(
    aws: AwsClients, stores: Stores
) -> None:
    a, b = stores
    before = time.time()

    assert await a.claim(KEY, lease_s=60) is ClaimState.CLAIMED

    got = await item(aws, KEY)
    assert got is not None
    assert got["status"]["S"] == "IN_PROGRESS"
    assert before + 59 <= float(got["lease_expires_at"]["N"]) <= time.time() + 61
    assert before + TTL - 1 <= int(got["expires_at"]["N"]) <= time.time() + TTL + 1
    assert await b.claim(KEY, lease_s=60) is ClaimState.IN_PROGRESS_ELSEWHERE
    assert await a.claim(KEY, lease_s=60) is ClaimState.IN_PROGRESS_ELSEWHERE, "not re-entrant"


async def test_a_completed_key_is_already_done_and_kept_for_the_ttl(aws: AwsClients, stores: Stores) -> None:
    a, b = stores
    await a.claim(KEY, lease_s=60)
    await a.complete(KEY)

    got = await item(aws, KEY)
    assert got is not None and got["status"]["S"] == "COMPLETED"
    assert int(got["expires_at"]["N"]) >= int(time.time()) + TTL - 2
    assert await b.claim(KEY, lease_s=60) is ClaimState.ALREADY_DONE
    assert await a.claim(KEY, lease_s=60) is ClaimState.ALREADY_DONE


async def test_a_released_claim_can_be_claimed_again(aws: AwsClients, stores: Stores) -> None:
    a, b = stores
    await a.claim(KEY, lease_s=60)
    await a.release(KEY)

    assert await item(aws, KEY) is None
    assert await b.claim(KEY, lease_s=60) is ClaimState.CLAIMED


async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_release_it(
    aws: AwsClients, stores: Stores
) -> None:
    a, b = stores
    await a.claim(KEY, lease_s=1)
    await asyncio.sleep(1.1)

    assert await b.claim(KEY, lease_s=60) is ClaimState.CLAIMED
    await a.release(KEY)  # the crashed-and-revived holder fails late
    assert await b.status(KEY) == "IN_PROGRESS", "b's claim survives a's release"
    await a.renew(KEY, lease_s=60)  # and cannot renew it either
    await b.complete(KEY)
    await a.release(KEY)
    assert await a.status(KEY) == "COMPLETED", "release never deletes a completed record"


async def test_renewing_a_lease_keeps_others_out(
    stores: Stores,
) -> None:
    a, b = stores
    await a.claim(KEY, lease_s=1)
    await a.renew(KEY, lease_s=60)
    await asyncio.sleep(1.1)

    assert await b.claim(KEY, lease_s=60) is ClaimState.IN_PROGRESS_ELSEWHERE


async def test_a_record_past_its_ttl_counts_as_absent(aws: AwsClients, stores: Stores) -> None:
    # DynamoDB deletes expired items lazily, so the claim condition checks the TTL itself.
    a, _ = stores
    ddb = await aws.client("dynamodb")
    await ddb.put_item(
        TableName=T_IDEMPOTENCY,
        Item={
            "idempotency_key": {"S": KEY},
            "status": {"S": "COMPLETED"},
            "expires_at": {"N": str(int(time.time()) - 10)},
        },
    )
    assert await a.claim(KEY, lease_s=60) is ClaimState.CLAIMED
