"""Ports: the Protocols that handlers depend on. Adapters implement them."""

from avs_shared.ports.messaging import Publisher
from avs_shared.ports.storage import (
    Cache,
    ClaimState,
    IdempotencyStore,
    LockTable,
    ObjectStore,
    RenewableClaims,
    StoredObject,
)

__all__ = [
    "Cache",
    "ClaimState",
    "IdempotencyStore",
    "LockTable",
    "ObjectStore",
    "Publisher",
    "RenewableClaims",
    "StoredObject",
]
