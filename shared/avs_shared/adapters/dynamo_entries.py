"""DynamoDB implementation of :class:`avs_shared.ports.entries.EntryStore` (``anime-enriched-data``).

Item layout
-----------
One item per entry, keyed by ``anime_id`` (= ``id``). The entry's JSON keys are the
item's top-level attributes, stored as native maps and lists (see
:mod:`~avs_shared.adapters.dynamo_codec`) so projection expressions reach inside
them. ``system_status`` is always written (the ``system_status-index`` GSI key),
even when the entry left it at its default. Attributes of the store itself start
with ``_avs_`` and never reach callers:

``_avs_content_sha256``
    Hash of the entry written by the last :meth:`DynamoEntryStore.put`, without
    ``version``/``updated_at``; detects replays. Removed by ``update_fields``.
``_avs_overflow``
    ``{field: {key, sha256, bytes}}`` for fields kept in S3 (see below).

Versioning
----------
``put(entry, expected_version=N)`` is one conditional ``PutItem``
(``version = N``) that stores ``version = N + 1``; ``expected_version=None`` is
``attribute_not_exists(anime_id)`` and stores version 1. ``update_fields`` is one
``UpdateItem`` that also increments ``version``, so a put based on a version read
before an update fails instead of overwriting it (no lost update), and an update
never loses a concurrent put's content because it changes only its own paths. A
failed put is a replay when the stored item has ``version = N + 1`` and the same
content hash: it returns the stored entry and writes nothing.

Overflow
--------
DynamoDB caps items at 400 KB. When an item would exceed ``overflow_threshold_bytes``
(350 KB), its largest fields move to S3 (see :mod:`~avs_shared.adapters.dynamo_overflow`
for which, and where). The objects are written *before* the item, so no reader sees
a pointer to a missing object; after a successful write the objects of the replaced
item are deleted. A reader that races that delete finds the object gone, re-reads
the item (consistently) and follows its new pointers. Reads verify the hash.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast, overload

import structlog
from pydantic import JsonValue, ValidationError

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_codec import (
    HASH,
    KEY,
    META,
    OVERFLOW,
    Expression,
    Item,
    content_hash,
    entry_document,
    field_paths,
    from_item,
    projection,
    projection_text,
    text_attr,
    to_item,
    update_path,
    version_attr,
)
from avs_shared.adapters.dynamo_overflow import EntryOverflow, overflow_keys, overflow_pointers
from avs_shared.adapters.dynamo_paths import Path, check_disjoint, parse_path, project, render_path
from avs_shared.adapters.dynamo_table import DynamoTable
from avs_shared.errors import AvsError, Conflict, NotFound, Permanent, Retryable
from avs_shared.ports.entries import Projected
from avs_shared.ports.storage import ObjectStore
from avs_shared.schema import AnimeEntry, SystemStatus, format_utc_datetime
from avs_shared.topology import GSI_SYSTEM_STATUS, T_ENRICHED

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

_BATCH_GET = 100
_BATCH_WRITE = 25


class DynamoEntryStore:
    """Enriched entries in DynamoDB, with very large fields kept in an :class:`ObjectStore`.

    Parameters
    ----------
    aws:
        The client factory.
    objects:
        Where overflowed fields go (the data bucket).
    table, overflow_prefix:
        Table name and key prefix of overflow objects.
    overflow_threshold_bytes:
        Items larger than this move fields to ``objects``; keep it under 400 KB.
    max_batch_attempts, backoff_base_s:
        Bounded retries of unprocessed batch keys/items (exponential backoff with
        jitter); after the last one a :class:`Retryable` is raised.
    clock:
        The source of ``updated_at``.
    """

    def __init__(
        self,
        aws: AwsClients,
        *,
        objects: ObjectStore,
        table: str = T_ENRICHED,
        overflow_prefix: str = "entries-overflow/",
        overflow_threshold_bytes: int = 350_000,
        max_batch_attempts: int = 8,
        backoff_base_s: float = 0.05,
        batch_concurrency: int = 4,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._table = DynamoTable(
            aws, table, max_batch_attempts=max_batch_attempts, backoff_base_s=backoff_base_s
        )
        self._overflow = EntryOverflow(
            objects, prefix=overflow_prefix, threshold_bytes=overflow_threshold_bytes
        )
        self._batch_concurrency = max(batch_concurrency, 1)
        self._clock = clock or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------------ reads
    @overload
    async def get(
        self, anime_id: str, fields: None = None, *, consistent: bool = False
    ) -> AnimeEntry | None: ...

    @overload
    async def get(
        self, anime_id: str, fields: Sequence[str], *, consistent: bool = False
    ) -> Projected | None: ...

    async def get(
        self, anime_id: str, fields: Sequence[str] | None = None, *, consistent: bool = False
    ) -> AnimeEntry | Projected | None:
        """One entry (or its projection), or None; see :class:`EntryStore`."""
        paths = field_paths(fields)
        item = await self._get_item(anime_id, paths, consistent=consistent)
        if item is None:
            return None
        return await self._decode(item, paths)

    @overload
    async def batch_get(
        self, ids: Iterable[str], fields: None = None, *, consistent: bool = False
    ) -> list[AnimeEntry]: ...

    @overload
    async def batch_get(
        self, ids: Iterable[str], fields: Sequence[str], *, consistent: bool = False
    ) -> list[Projected]: ...

    async def batch_get(
        self, ids: Iterable[str], fields: Sequence[str] | None = None, *, consistent: bool = False
    ) -> list[AnimeEntry] | list[Projected]:
        """BatchGetItem in chunks of 100, unprocessed keys retried; input order kept."""
        wanted = list(dict.fromkeys(ids))
        paths = field_paths(fields)
        request: dict[str, Any] = {"ConsistentRead": consistent}
        if paths is not None:
            request.update(projection(paths))
        chunks = [wanted[i : i + _BATCH_GET] for i in range(0, len(wanted), _BATCH_GET)]
        gate = asyncio.Semaphore(self._batch_concurrency)

        async def one(chunk: list[str]) -> list[Item]:
            async with gate:
                return await self._table.batch_get([{KEY: {"S": anime_id}} for anime_id in chunk], **request)

        found: dict[str, AnimeEntry | Projected] = {}
        for items in await asyncio.gather(*(one(c) for c in chunks)):
            for value in await asyncio.gather(*(self._decode(item, paths) for item in items)):
                if value is not None:
                    found[_id_of(value)] = value
        return cast("list[AnimeEntry] | list[Projected]", [found[i] for i in wanted if i in found])

    @overload
    def query_by_status(
        self, status: SystemStatus | str, fields: None = None, *, page_size: int | None = None
    ) -> AsyncGenerator[AnimeEntry, None]: ...

    @overload
    def query_by_status(
        self, status: SystemStatus | str, fields: Sequence[str], *, page_size: int | None = None
    ) -> AsyncGenerator[Projected, None]: ...

    async def query_by_status(
        self, status: SystemStatus | str, fields: Sequence[str] | None = None, *, page_size: int | None = None
    ) -> AsyncGenerator[AnimeEntry | Projected, None]:
        """Query the ``system_status-index`` GSI, following every page."""
        paths = field_paths(fields)
        expr = Expression()
        kwargs: dict[str, Any] = {
            "TableName": self._table.name,
            "IndexName": GSI_SYSTEM_STATUS,
            "KeyConditionExpression": f"{expr.name('system_status')} = {expr.value(SystemStatus(status))}",
        }
        if paths is not None:
            kwargs["ProjectionExpression"] = projection_text(paths, expr)
        kwargs.update(expr.kwargs())
        if page_size is not None:
            kwargs["Limit"] = page_size
        async for item in self._table.pages("query", kwargs):
            value = await self._decode(item, paths)
            if value is not None:
                yield value

    @overload
    def scan(
        self, segments: int = 4, fields: None = None, *, page_size: int | None = None
    ) -> AsyncGenerator[AnimeEntry, None]: ...

    @overload
    def scan(
        self, segments: int, fields: Sequence[str], *, page_size: int | None = None
    ) -> AsyncGenerator[Projected, None]: ...

    async def scan(
        self, segments: int = 4, fields: Sequence[str] | None = None, *, page_size: int | None = None
    ) -> AsyncGenerator[AnimeEntry | Projected, None]:
        """Parallel scan: one task per segment, results merged as they arrive."""
        if not 1 <= segments <= 1_000_000:
            raise ValueError(f"segments must be 1..1000000, got {segments}")
        paths = field_paths(fields)
        base: dict[str, Any] = {"TableName": self._table.name, "TotalSegments": segments}
        if paths is not None:
            base.update(projection(paths))
        if page_size is not None:
            base["Limit"] = page_size
        values: AsyncGenerator[AnimeEntry | Projected, None] = self._table.parallel_scan(
            base, segments, lambda item: self._decode(item, paths)
        )
        async with contextlib.aclosing(values):
            async for value in values:
                yield value

    # ------------------------------------------------------------------ writes
    async def put(self, entry: AnimeEntry, *, expected_version: int | None) -> AnimeEntry:
        """Conditional put on ``version``; see the module docstring for the policy."""
        if expected_version is not None and expected_version < 0:
            raise ValueError(f"expected_version must be >= 0 or None, got {expected_version}")
        doc = entry_document(entry)
        digest = content_hash(doc)
        new_version = 1 if expected_version is None else expected_version + 1
        doc["version"] = new_version
        doc["updated_at"] = format_utc_datetime(self._clock())
        item = await self._item_for(doc)
        item[HASH] = {"S": digest}
        expr = Expression()
        if expected_version is None:
            condition = f"attribute_not_exists({expr.name(KEY)})"
        else:
            condition = f"{expr.name('version')} = {expr.value(expected_version)}"
        try:
            resp = await self._table.call(
                "put_item",
                TableName=self._table.name,
                Item=item,
                ConditionExpression=condition,
                ReturnValues="ALL_OLD",
                **expr.kwargs(),
            )
        except Conflict as exc:
            return await self._after_failed_put(entry.id, expected_version, digest, item, exc)
        # On other errors the objects stay: the write may have happened (a timeout), and a
        # retry writes the same keys again (they depend on id, version and content only).
        await self._overflow.delete(overflow_keys(resp.get("Attributes") or {}) - overflow_keys(item))
        return AnimeEntry.from_json_dict(doc)

    async def batch_put(self, entries: Iterable[AnimeEntry]) -> None:
        """BatchWriteItem in chunks of 25, unprocessed items retried (bounded)."""
        latest = {entry.id: entry for entry in entries}
        gate = asyncio.Semaphore(self._batch_concurrency)

        async def encode(entry: AnimeEntry) -> Item:
            async with gate:
                return await self._item_for(entry_document(entry))

        items = await asyncio.gather(*(encode(e) for e in latest.values()))
        chunks = [items[i : i + _BATCH_WRITE] for i in range(0, len(items), _BATCH_WRITE)]

        async def write(chunk: list[Item]) -> None:
            async with gate:
                await self._table.batch_put(chunk)

        await asyncio.gather(*(write(c) for c in chunks))

    async def update_fields(
        self,
        anime_id: str,
        set: Mapping[str, object],
        remove: Sequence[str] = (),
        *,
        condition_exists: bool = True,
        expected_version: int | None = None,
        expect: Mapping[str, JsonValue] | None = None,
    ) -> int:
        """One UpdateItem that also increments ``version``; see :class:`EntryStore`."""
        sets = [(update_path(raw, setting=True, value=value), value) for raw, value in set.items()]
        removes = [update_path(raw) for raw in remove]
        if not sets and not removes:
            raise ValueError("update_fields needs at least one path to set or remove")
        check_disjoint([p for p, _ in sets] + removes)
        expr = Expression()
        version = expr.name("version")
        actions = [f"{expr.path(p)} = {expr.value(v, render_path(p))}" for p, v in sets]
        actions.append(f"{version} = if_not_exists({version}, {expr.value(0)}) + {expr.value(1)}")
        actions.append(f"{expr.name('updated_at')} = {expr.value(format_utc_datetime(self._clock()))}")
        update = (
            "SET " + ", ".join(actions) + " REMOVE " + ", ".join([*map(expr.path, removes), expr.name(HASH)])
        )
        heads = sorted({str(p[0]) for p, _ in sets} | {str(p[0]) for p in removes})
        conditions = [f"attribute_not_exists({expr.name(OVERFLOW)}.{expr.name(h)})" for h in heads]
        if condition_exists:
            conditions.append(f"attribute_exists({expr.name(KEY)})")
        if expected_version is not None:
            conditions.append(f"{version} = {expr.value(expected_version)}")
        # SET on an index past the end appends; an element that vanished must fail instead.
        conditions += [
            f"attribute_exists({expr.path(p)})" for p, _ in sets if any(isinstance(x, int) for x in p)
        ]
        for raw, value in (expect or {}).items():
            path = parse_path(raw)
            conditions.append(f"{expr.path(path)} = {expr.value(value, raw)}")
        try:
            resp = await self._table.call(
                "update_item",
                TableName=self._table.name,
                Key={KEY: {"S": anime_id}},
                UpdateExpression=update,
                ConditionExpression=" AND ".join(conditions),
                ReturnValues="UPDATED_NEW",
                **expr.kwargs(),
            )
        except Conflict as exc:
            raise await self._update_conflict(anime_id, heads, expected_version) from exc
        return int(resp["Attributes"]["version"]["N"])

    # ------------------------------------------------------------------ write helpers
    async def _item_for(self, doc: dict[str, JsonValue]) -> Item:
        """The item for ``doc``; fields too large for it are written to S3 first."""
        anime_id = str(doc["id"])
        try:
            item = to_item(doc)
        except (TypeError, ValueError) as exc:
            raise Permanent(f"entry {anime_id} cannot be stored in DynamoDB: {exc}") from exc
        item[KEY] = {"S": anime_id}
        return await self._overflow.offload(doc, item)

    async def _after_failed_put(
        self, anime_id: str, expected: int | None, digest: str, item: Item, exc: Conflict
    ) -> AnimeEntry:
        stored = await self._get_item(anime_id, [(KEY,), ("version",), (HASH,), (OVERFLOW,)], consistent=True)
        # Our overflow objects are unreferenced unless the stored item is this same write.
        await self._overflow.delete(overflow_keys(item) - overflow_keys(stored or {}))
        new_version = 1 if expected is None else expected + 1
        if stored is not None and version_attr(stored) == new_version and text_attr(stored, HASH) == digest:
            entry = await self.get(anime_id, consistent=True)
            if entry is not None:
                log.info("entries.put_replayed", anime_id=anime_id, version=new_version)
                return entry
        if stored is None:
            raise Conflict(
                f"entry {anime_id} does not exist; this write expected version {expected}"
            ) from exc
        wanted = "no entry" if expected is None else f"version {expected}"
        raise Conflict(
            f"entry {anime_id} is at version {version_attr(stored)} but this write expected {wanted}: "
            "re-read the entry and apply the change again"
        ) from exc

    async def _update_conflict(self, anime_id: str, heads: list[str], expected: int | None) -> AvsError:
        stored = await self._get_item(anime_id, [(KEY,), ("version",), (OVERFLOW,)], consistent=True)
        if stored is None:
            return Conflict(f"entry {anime_id} does not exist")
        overflowed = sorted(set(heads) & set(overflow_pointers(stored)))
        if overflowed:
            return Permanent(
                f"entry {anime_id} keeps {overflowed} outside the item (too large); update it with put()"
            )
        if expected is not None and version_attr(stored) != expected:
            return Conflict(f"entry {anime_id} is at version {version_attr(stored)}, not {expected}")
        return Conflict(f"entry {anime_id} changed: a list element or an expected value no longer matches")

    # ------------------------------------------------------------------ read helpers
    async def _get_item(self, anime_id: str, paths: list[Path] | None, *, consistent: bool) -> Item | None:
        kwargs: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": {KEY: {"S": anime_id}},
            "ConsistentRead": consistent,
        }
        if paths is not None:
            kwargs.update(projection(paths))
        item: Item | None = (await self._table.call("get_item", **kwargs)).get("Item")
        return item

    async def _decode(self, item: Item, paths: list[Path] | None) -> AnimeEntry | Projected | None:
        """The entry or projection of ``item``, following overflow pointers.

        An overflow object deleted under us means the item was replaced since it was
        read: re-read it and follow the new pointers (a few times at most).
        """
        anime_id = text_attr(item, KEY) or text_attr(item, "id")
        for _ in range(3):
            try:
                if paths is None:
                    return await self._full(item)
                return await self._projected(item, paths)
            except NotFound as exc:
                fresh = await self._get_item(anime_id, paths, consistent=True)
                if fresh is None:
                    return None
                if overflow_pointers(fresh) == overflow_pointers(item):
                    raise Permanent(f"entry {anime_id} points to a missing overflow object: {exc}") from exc
                item = fresh
        raise Retryable(f"entry {anime_id} kept changing while it was read", retry_after_s=1.0)

    async def _full(self, item: Item) -> AnimeEntry:
        doc = from_item(item, skip=[n for n in item if n == KEY or n.startswith(META)])
        doc.update(await self._overflow.load(overflow_pointers(item)))
        try:
            return AnimeEntry.from_json_dict(doc)
        except ValidationError as exc:
            raise Permanent(f"stored entry {doc.get('id')} is not a valid AnimeEntry: {exc}") from exc

    async def _projected(self, item: Item, paths: list[Path]) -> Projected:
        doc = from_item(item, skip=[n for n in item if n.startswith(META)])
        pointers = overflow_pointers(item)
        outside = {str(p[0]) for p in paths} & set(pointers)
        if outside:
            doc.update(await self._overflow.load({f: pointers[f] for f in outside}))
        return project(doc, paths)


def _id_of(value: AnimeEntry | Projected) -> str:
    return value.id if isinstance(value, AnimeEntry) else str(value.get("id"))
