"""Fields of an entry too large for its DynamoDB item, kept as JSON objects in S3.

DynamoDB caps items at 400 KB. When an item would exceed the threshold (350 KB by
default), ``episode_details``, then ``characters``, then the largest other fields
move to the object store as canonical JSON at
``<prefix><anime_id>/v<version>/<field>-<sha256>.json``, and the item keeps a
pointer per field in ``_avs_overflow``: ``{field: {key, sha256, bytes}}``.

:class:`EntryOverflow` is what :class:`~avs_shared.adapters.dynamo_entries.DynamoEntryStore`
uses: :meth:`~EntryOverflow.offload` writes the objects (before the item, so no
reader sees a pointer to a missing object), :meth:`~EntryOverflow.load` reads them
back and verifies each hash, :meth:`~EntryOverflow.delete` removes the objects of a
replaced item. :func:`overflow_pointers` and :func:`overflow_keys` read the pointers
of an item.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import structlog
from pydantic import JsonValue

from avs_shared.adapters.dynamo_codec import KEY, OVERFLOW, Item, attribute_size, canonical_json
from avs_shared.errors import Permanent
from avs_shared.ports.storage import ObjectStore

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

OVERFLOW_FIRST = ("episode_details", "characters")
"""Moved first, in this order; then the largest other fields."""
ITEM_LIMIT = 400 * 1024
_PINNED = frozenset({KEY, "id", "title", "system_status", "version", "updated_at", "orphaned_at"})
_POINTER_BYTES = 300


def overflow_pointers(item: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Field kept outside the item -> (object key, sha256)."""
    found = item.get(OVERFLOW, {}).get("M", {})
    return {str(f): (str(p["M"]["key"]["S"]), str(p["M"]["sha256"]["S"])) for f, p in found.items()}


def overflow_keys(item: Mapping[str, Any]) -> set[str]:
    """The object keys an item points to."""
    return {key for key, _ in overflow_pointers(item).values()}


def plan_overflow(anime_id: str, item: Item, threshold_bytes: int) -> list[str]:
    """The fields to move out of ``item`` so that it fits ``threshold_bytes``, in order.

    Empty when it fits already; :class:`Permanent` when even moving every movable
    field would not make it fit.
    """
    # The item's JSON is never smaller than its DynamoDB size (every name and value is
    # in it, plus quotes and type tags), and json.dumps is C: most items stop here
    # without walking their ~470 values in Python.
    if len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()) <= threshold_bytes:
        return []
    sizes = {name: attribute_size(name, value) for name, value in item.items()}
    total = sum(sizes.values())
    if total <= threshold_bytes:
        return []
    rest = sorted((n for n in item if n not in _PINNED and n not in OVERFLOW_FIRST), key=lambda n: -sizes[n])
    moved: list[str] = []
    for name in [n for n in OVERFLOW_FIRST if n in item] + rest:
        if total <= threshold_bytes:
            break
        if sizes[name] <= _POINTER_BYTES:
            continue  # moving it would not make the item smaller
        moved.append(name)
        total += _POINTER_BYTES - sizes[name]
    if total > threshold_bytes:
        raise Permanent(f"entry {anime_id} is too large for one item even with overflow ({total} bytes)")
    log.info("entries.overflow", anime_id=anime_id, fields=moved, item_bytes=sum(sizes.values()))
    return moved


class EntryOverflow:
    """Writes, reads and deletes the overflow objects of entries.

    Parameters
    ----------
    objects:
        Where overflowed fields go (the data bucket).
    prefix:
        Key prefix of the objects.
    threshold_bytes:
        Items larger than this move fields out; capped 10 KB under DynamoDB's 400 KB.
    """

    def __init__(self, objects: ObjectStore, *, prefix: str, threshold_bytes: int) -> None:
        self._objects = objects
        self._prefix = prefix
        self._threshold = min(threshold_bytes, ITEM_LIMIT - 10_000)

    async def offload(self, doc: Mapping[str, JsonValue], item: Item) -> Item:
        """``item`` (the encoding of ``doc``) with its too-large fields written out and replaced
        by pointers; the objects exist when this returns. ``item`` is changed in place."""
        anime_id = str(doc["id"])
        moved = plan_overflow(anime_id, item, self._threshold)
        if not moved:
            return item
        version = doc.get("version", 0)
        pointers = await asyncio.gather(*(self._write(anime_id, version, f, doc[f]) for f in moved))
        for field in moved:
            del item[field]
        item[OVERFLOW] = {"M": dict(zip(moved, pointers, strict=True))}
        return item

    async def load(self, pointers: Mapping[str, tuple[str, str]]) -> dict[str, JsonValue]:
        """The values of the fields behind ``pointers``, each checked against its sha256.

        A missing object raises :class:`~avs_shared.errors.NotFound` (the item was
        replaced since it was read); a corrupt one :class:`Permanent`.
        """

        async def load(key: str, sha: str) -> JsonValue:
            body = (await self._objects.get(key)).body
            if hashlib.sha256(body).hexdigest() != sha:
                raise Permanent(f"overflow object {key} does not match its sha256 (corrupt or replaced)")
            value: JsonValue = json.loads(body)
            return value

        fields = sorted(pointers)
        values = await asyncio.gather(*(load(*pointers[f]) for f in fields))
        return dict(zip(fields, values, strict=True))

    async def delete(self, keys: set[str]) -> None:
        """Delete objects no item points to any more; failures are logged, not raised."""

        async def delete(key: str) -> None:
            try:
                await self._objects.delete(key)
            except Exception as exc:  # an orphaned object wastes space but breaks nothing
                log.warning("entries.overflow_delete_failed", key=key, error=repr(exc))

        await asyncio.gather(*(delete(k) for k in sorted(keys)))

    async def _write(self, anime_id: str, version: JsonValue, field: str, value: JsonValue) -> Item:
        body = canonical_json(value)
        sha = hashlib.sha256(body).hexdigest()
        key = f"{self._prefix}{anime_id}/v{version}/{field}-{sha}.json"
        await self._objects.put(
            key, body, content_type="application/json", metadata={"anime-id": anime_id, "sha256": sha}
        )
        return {"M": {"key": {"S": key}, "sha256": {"S": sha}, "bytes": {"N": str(len(body))}}}
