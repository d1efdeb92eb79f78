"""DynamoLockTable against the moto server."""

from __future__ import annotations

import time

import pytest

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_locks import DynamoLockTable
from avs_shared.adapters.provision import Provisioner
from avs_shared.ports.storage import LockTable
from avs_shared.topology import T_LOCKS


@pytest.fixture
def locks(provisioned: Provisioner, aws: AwsClients) -> DynamoLockTable:
    return DynamoLockTable(aws)


async def test_an_absent_lock_is_acquired_with_a_ttl(aws: AwsClients, locks: DynamoLockTable) -> None:
    port: LockTable = locks
    assert await port.acquire("anime-1", owner="sync", ttl_s=600) is True

    ddb = await aws.client("dynamodb")
    item = (await ddb.get_item(TableName=T_LOCKS, Key={"anime_id": {"S": "anime-1"}}))["Item"]
    assert item["owner"]["S"] == "sync"
    assert abs(int(item["ttl"]["N"]) - (int(time.time()) + 600)) <= 2
    assert await locks.holder("anime-1") == "sync"


async def test_a_held_lock_is_not_acquired(locks: DynamoLockTable) -> None:
    assert await locks.acquire("anime-1", owner="sync")
    assert await locks.acquire("anime-1", owner="enricher") is False
    assert await locks.acquire("anime-1", owner="sync") is False, "not re-entrant either"
    assert await locks.holder("anime-1") == "sync"


async def test_an_expired_lock_not_yet_deleted_by_ttl_is_acquired_again(
    aws: AwsClients, locks: DynamoLockTable
) -> None:
    ddb = await aws.client("dynamodb")
    await ddb.put_item(
        TableName=T_LOCKS,
        Item={
            "anime_id": {"S": "anime-1"},
            "owner": {"S": "crashed-sync"},
            "ttl": {"N": str(int(time.time()) - 5)},
        },
    )
    assert await locks.holder("anime-1") is None
    assert await locks.acquire("anime-1", owner="enricher") is True
    assert await locks.holder("anime-1") == "enricher"


async def test_release_frees_the_lock(locks: DynamoLockTable) -> None:
    assert await locks.acquire("anime-1", owner="sync")
    await locks.release("anime-1")

    assert await locks.holder("anime-1") is None
    assert await locks.acquire("anime-1", owner="indexer") is True
    await locks.release("anime-2")  # releasing a free lock is a no-op
