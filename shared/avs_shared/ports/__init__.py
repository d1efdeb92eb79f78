"""Ports: the Protocols that handlers depend on. Adapters implement them."""

from avs_shared.ports.embedding import Embedder
from avs_shared.ports.entries import EntryStore
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
from avs_shared.ports.vector import VectorIndex

__all__ = [
    "Cache",
    "ClaimState",
    "Embedder",
    "EntryStore",
    "IdempotencyStore",
    "LockTable",
    "ObjectStore",
    "Publisher",
    "RenewableClaims",
    "StoredObject",
    "VectorIndex",
]
