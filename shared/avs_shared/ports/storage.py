"""Storage ports: objects, cache, locks, idempotency claims."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class StoredObject:
    key: str
    body: bytes
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class ObjectStore(Protocol):
    """A bucket of objects addressed by key (S3)."""

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None: ...

    async def get(self, key: str) -> StoredObject:
        """The object; raises :class:`avs_shared.errors.NotFound` if absent."""
        ...

    async def head(self, key: str) -> dict[str, str] | None:
        """The object's user metadata, or None if it does not exist."""
        ...

    async def delete(self, key: str) -> None: ...


class Cache(Protocol):
    """A byte cache with TTLs (Redis). Every method degrades: a cache that is down
    behaves like an empty cache and never raises."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl_s: int) -> None: ...

    async def delete(self, *keys: str) -> None: ...


class LockTable(Protocol):
    """Processing locks (``anime-processing-locks``): free when absent or expired."""

    async def acquire(self, anime_id: str, *, owner: str, ttl_s: int = 86_400) -> bool:
        """True if this caller now holds the lock."""
        ...

    async def release(self, anime_id: str) -> None: ...


class ClaimState(StrEnum):
    CLAIMED = "claimed"
    ALREADY_DONE = "already_done"
    IN_PROGRESS_ELSEWHERE = "in_progress_elsewhere"


class IdempotencyStore(Protocol):
    """Handler claims keyed by (handler, event_id): claim, then complete or release."""

    async def claim(self, key: str, *, lease_s: int) -> ClaimState: ...

    async def complete(self, key: str) -> None: ...

    async def release(self, key: str) -> None: ...


@runtime_checkable
class RenewableClaims(Protocol):
    """An :class:`IdempotencyStore` that can also extend the lease of a claim it holds.

    The worker runtime renews the lease from its visibility heartbeat when the store
    offers this, so a long handler keeps its claim as long as it keeps its message.
    """

    async def renew(self, key: str, *, lease_s: int) -> None:
        """Extend this process's IN_PROGRESS claim on ``key``; a no-op if it is no longer ours."""
        ...
