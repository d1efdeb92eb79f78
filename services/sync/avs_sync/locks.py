"""Processing locks with a publish lease: "enqueue each new anime once", even across crashes.

The lock item is the one of :class:`~avs_shared.adapters.dynamo_locks.DynamoLockTable`
(``anime_id``, ``owner``, ``acquired_at``, ``ttl`` = 24 h; released by whoever finishes
the enrichment) with three more attributes written by the sync:

``lease_until_ms``
    Until when the owner is busy publishing ``anime-new`` for it (a short lease).
``published_at``, ``event_id``
    Set once the event is out; the lease is removed.

A lock is free when absent or its ``ttl`` is in the past (TTL deletion is lazy), or
when its owner took it but never published and its lease ran out: that owner crashed
between the lock and the publish, and the anime would otherwise wait 24 h. A second
sync running at the same time finds a live lease or ``published_at`` and skips the
anime, so it is enqueued once. A lock taken by anything else (no lease attribute) is
never taken over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_table import DynamoTable
from avs_shared.errors import Conflict
from avs_shared.topology import T_LOCKS

log = structlog.get_logger(__name__)

LOCK_TTL_S = 24 * 3600


@dataclass(frozen=True)
class LockState:
    """A lock as read back (for reports and tests)."""

    anime_id: str
    owner: str
    ttl: int
    lease_until_ms: int | None
    published_at: int | None
    event_id: str | None


class PublishLocks:
    """Take, publish under, and inspect processing locks on ``anime-processing-locks``.

    Parameters
    ----------
    lease_s:
        How long a taken lock is reserved for its owner's publish. A crashed owner's
        unpublished locks become free after it; keep it well above one publish call.
    """

    def __init__(
        self, aws: AwsClients, *, table: str = T_LOCKS, ttl_s: int = LOCK_TTL_S, lease_s: float = 120.0
    ) -> None:
        self._table = DynamoTable(aws, table)
        self._ttl_s = ttl_s
        self._lease_ms = int(lease_s * 1000)

    async def acquire(self, anime_id: str, *, owner: str) -> bool:
        """True if ``owner`` now holds the lock and must publish; False if someone else does."""
        now_ms = int(time.time() * 1000)
        now = now_ms // 1000
        try:
            await self._table.call(
                "put_item",
                TableName=self._table.name,
                Item={
                    "anime_id": {"S": anime_id},
                    "owner": {"S": owner},
                    "acquired_at": {"N": str(now)},
                    "ttl": {"N": str(now + self._ttl_s)},
                    "lease_until_ms": {"N": str(now_ms + self._lease_ms)},
                },
                ConditionExpression=(
                    "attribute_not_exists(anime_id) OR #ttl < :now "
                    "OR (attribute_not_exists(published_at) AND lease_until_ms < :now_ms)"
                ),
                ExpressionAttributeNames={"#ttl": "ttl"},  # a reserved word
                ExpressionAttributeValues={":now": {"N": str(now)}, ":now_ms": {"N": str(now_ms)}},
            )
        except Conflict:
            return False
        return True

    async def mark_published(self, anime_id: str, *, owner: str, event_id: str) -> None:
        """Record that the event is out (ends the lease); a lost lease is only logged:
        the new owner publishes the same event id, which consumers deduplicate."""
        try:
            await self._table.call(
                "update_item",
                TableName=self._table.name,
                Key={"anime_id": {"S": anime_id}},
                UpdateExpression="SET published_at = :now, event_id = :eid REMOVE lease_until_ms",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":now": {"N": str(int(time.time()))},
                    ":eid": {"S": event_id},
                    ":owner": {"S": owner},
                },
            )
        except Conflict:
            log.warning("sync.lock_lost_before_mark", anime_id=anime_id, owner=owner, event_id=event_id)

    async def states(self, anime_ids: list[str]) -> dict[str, LockState]:
        """The live locks among ``anime_ids`` (expired ones are left out)."""
        found: dict[str, LockState] = {}
        now = int(time.time())
        for start in range(0, len(anime_ids), 100):
            keys = [{"anime_id": {"S": a}} for a in dict.fromkeys(anime_ids[start : start + 100])]
            for item in await self._table.batch_get(keys, ConsistentRead=True):
                state = _state(item)
                if state.ttl >= now:
                    found[state.anime_id] = state
        return found


def _state(item: dict[str, dict[str, str]]) -> LockState:
    def num(name: str) -> int | None:
        value = item.get(name, {}).get("N")
        return int(value) if value is not None else None

    return LockState(
        anime_id=item["anime_id"]["S"],
        owner=item.get("owner", {}).get("S", ""),
        ttl=num("ttl") or 0,
        lease_until_ms=num("lease_until_ms"),
        published_at=num("published_at"),
        event_id=item.get("event_id", {}).get("S"),
    )
