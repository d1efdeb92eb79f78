"""Ports: the Protocols that handlers depend on. Adapters implement them."""

from avs_shared.ports.messaging import Publisher
from avs_shared.ports.storage import Cache, IdempotencyStore, LockTable, ObjectStore, StoredObject

__all__ = ["Cache", "IdempotencyStore", "LockTable", "ObjectStore", "Publisher", "StoredObject"]
