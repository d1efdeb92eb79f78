"""DynamoDB implementation of :class:`avs_shared.ports.storage.LockTable`.

Locks live in ``anime-processing-locks`` keyed by ``anime_id``, with the TTL
attribute ``ttl`` (epoch seconds). DynamoDB deletes expired items lazily (up to
days later), so a lock is free when it is absent *or* its ``ttl`` is in the past,
and the acquiring ``PutItem`` checks exactly that in its condition.
"""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.topology import T_LOCKS


class DynamoLockTable:
    """Processing locks: one conditional write to take, one delete to give back."""

    def __init__(self, aws: AwsClients, *, table: str = T_LOCKS) -> None:
        self._aws = aws
        self._table = table

    async def acquire(self, anime_id: str, *, owner: str, ttl_s: int = 86_400) -> bool:
        """True if this caller now holds the lock on ``anime_id`` (for ``ttl_s`` seconds)."""
        ddb = await self._aws.client("dynamodb")
        now = int(time.time())
        try:
            await ddb.put_item(
                TableName=self._table,
                Item={
                    "anime_id": {"S": anime_id},
                    "owner": {"S": owner},
                    "acquired_at": {"N": str(now)},
                    "ttl": {"N": str(now + ttl_s)},
                },
                ConditionExpression="attribute_not_exists(anime_id) OR #ttl < :now",
                ExpressionAttributeNames={"#ttl": "ttl"},  # ttl is a reserved word
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    async def release(self, anime_id: str) -> None:
        """Free the lock (a no-op when it is not held)."""
        ddb = await self._aws.client("dynamodb")
        await ddb.delete_item(TableName=self._table, Key={"anime_id": {"S": anime_id}})

    async def holder(self, anime_id: str) -> str | None:
        """The owner of a live lock on ``anime_id``, or None when it is free."""
        ddb = await self._aws.client("dynamodb")
        resp = await ddb.get_item(
            TableName=self._table, Key={"anime_id": {"S": anime_id}}, ConsistentRead=True
        )
        item = resp.get("Item")
        if not item or int(item["ttl"]["N"]) < int(time.time()):
            return None
        return str(item["owner"]["S"])


# The name of the port, for composition roots that read better with it.
LockTable = DynamoLockTable
