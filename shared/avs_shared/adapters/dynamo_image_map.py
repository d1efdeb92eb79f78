"""The image deduplication map (``image-deduplication-map``): source URL -> stored object or failure.

One item per source URL, keyed by ``source_url_hash`` (SHA-256 of the URL):

* ``status = "STORED"``: ``key`` is ``images/<sha256-of-bytes>.<ext>``; served at
  ``https://<cdn_domain>/<key>``; also ``content_type`` and ``stored_at``.
* ``status = "DOWNLOAD_FAILED"``: ``error_message``, ``last_attempt`` (epoch seconds),
  ``retry_count`` (failed rounds so far) and a ``ttl`` after which the record counts as
  absent (DynamoDB deletes it lazily, so readers check ``ttl`` themselves) and the URL is
  tried afresh.

A STORED record always wins: :meth:`DynamoImageMap.record_stored` overwrites whatever is
there, :meth:`DynamoImageMap.record_failed` never overwrites a STORED record.

The image ingestor writes the map; the indexer's commit reads it
(:meth:`DynamoImageMap.resolve_entry`) so an entry committed after its images were
ingested gets CDN URLs too, and the ingestor rewrites an entry committed before
(:meth:`DynamoImageMap.apply_to_stored_entry`). Both use :meth:`DynamoImageMap.replacement_for`,
so both orders converge to the same entry.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import JsonValue

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_table import DynamoTable
from avs_shared.errors import Conflict, Permanent
from avs_shared.ports.entries import EntryStore
from avs_shared.schema import AnimeEntry, ImageItem, ImagePlaceholder
from avs_shared.topology import T_IMAGE_DEDUP

ImageStatus = Literal["STORED", "DOWNLOAD_FAILED"]
STORED: ImageStatus = "STORED"
DOWNLOAD_FAILED: ImageStatus = "DOWNLOAD_FAILED"

_KEY = "source_url_hash"
_PATHS_PER_UPDATE = 60  # DynamoDB caps an expression at 4 KB; a path costs ~40 bytes of it
_UPDATE_ATTEMPTS = 8


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


ENTRY_IMAGE_FIELDS = ("images", "characters", "version")
"""The fields of a stored entry that :meth:`DynamoImageMap.apply_images` reads."""


@dataclass(frozen=True)
class AppliedImages:
    """What :meth:`DynamoImageMap.apply_images` found and did.

    Attributes
    ----------
    found:
        The entry exists.
    version:
        Its version after the update; None when nothing changed (or there is no entry).
    images:
        Its ``images`` (JSON) as read before the update: still current when nothing changed.
    """

    found: bool
    version: int | None = None
    images: JsonValue | None = None


@dataclass(frozen=True)
class ImageRecord:
    """One URL's entry in the map."""

    source_url: str
    status: ImageStatus
    key: str | None = None
    error_message: str | None = None
    last_attempt: int | None = None
    retry_count: int = 0
    content_type: str | None = None
    ttl: int | None = None

    def expired(self, now: float) -> bool:
        """A failure record past its ``ttl``: treated as absent (TTL deletion is lazy)."""
        return self.status == DOWNLOAD_FAILED and self.ttl is not None and self.ttl <= now


class DynamoImageMap:
    """Reads and writes the dedup map, and applies it to entries.

    Parameters
    ----------
    aws:
        The client factory.
    cdn_domain:
        Stored images are served as ``https://<cdn_domain>/<key>``.
    table:
        The table name.
    clock:
        Epoch seconds now (tests move it to check TTL handling).
    """

    def __init__(
        self,
        aws: AwsClients,
        *,
        cdn_domain: str,
        table: str = T_IMAGE_DEDUP,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._table = DynamoTable(aws, table)
        self._cdn = cdn_domain
        self._clock = clock or time.time

    def cdn_url(self, key: str) -> str:
        return f"https://{self._cdn}/{key}"

    # ------------------------------------------------------------------ reads
    async def lookup_many(self, urls: Sequence[str]) -> dict[str, ImageRecord]:
        """The records of the URLs that have a live one (consistent BatchGetItem, leftovers
        retried); failure records past their ``ttl`` are left out."""
        wanted = list(dict.fromkeys(urls))
        now = self._clock()
        found: dict[str, ImageRecord] = {}
        for start in range(0, len(wanted), 100):
            keys = [{_KEY: {"S": url_hash(u)}} for u in wanted[start : start + 100]]
            for item in await self._table.batch_get(keys, ConsistentRead=True):
                record = _record(item)
                if not record.expired(now):
                    found[record.source_url] = record
        return found

    async def lookup(self, url: str) -> ImageRecord | None:
        return (await self.lookup_many([url])).get(url)

    # ------------------------------------------------------------------ writes
    async def record_stored(self, url: str, *, key: str, content_type: str) -> ImageRecord:
        """``url`` is stored at ``key``: overwrites any record (a success beats a failure)."""
        record = ImageRecord(source_url=url, status=STORED, key=key, content_type=content_type)
        await self._table.call("put_item", TableName=self._table.name, Item=self._stored_item(record))
        return record

    async def record_stored_many(self, records: Sequence[ImageRecord]) -> None:
        """:meth:`record_stored` for many URLs at once (BatchWriteItem, 25 per call, leftovers
        retried); each record needs a ``key`` and a ``content_type``."""
        items = [self._stored_item(r) for r in {r.source_url: r for r in records}.values()]
        for start in range(0, len(items), 25):
            await self._table.batch_put(items[start : start + 25])

    def _stored_item(self, record: ImageRecord) -> dict[str, dict[str, str]]:
        if record.status != STORED or not record.key or not record.content_type:
            raise ValueError(f"not a complete STORED record: {record}")
        return {
            _KEY: {"S": url_hash(record.source_url)},
            "source_url": {"S": record.source_url},
            "status": {"S": STORED},
            "key": {"S": record.key},
            "content_type": {"S": record.content_type},
            "stored_at": {"N": str(int(self._clock()))},
        }

    async def record_failed(
        self, url: str, *, error_message: str, retry_count: int, ttl_s: int
    ) -> ImageRecord:
        """``url`` failed for good this round. Never replaces a STORED record: if another
        worker stored the image meanwhile, that record is returned instead."""
        now = int(self._clock())
        record = ImageRecord(
            source_url=url,
            status=DOWNLOAD_FAILED,
            error_message=error_message[:1000],
            last_attempt=now,
            retry_count=retry_count,
            ttl=now + ttl_s,
        )
        try:
            await self._table.call(
                "put_item",
                TableName=self._table.name,
                Item={
                    _KEY: {"S": url_hash(url)},
                    "source_url": {"S": url},
                    "status": {"S": DOWNLOAD_FAILED},
                    "error_message": {"S": record.error_message or "unknown error"},
                    "last_attempt": {"N": str(now)},
                    "retry_count": {"N": str(retry_count)},
                    "ttl": {"N": str(record.ttl)},
                },
                ConditionExpression="attribute_not_exists(#k) OR #s <> :stored",
                ExpressionAttributeNames={"#k": _KEY, "#s": "status"},
                ExpressionAttributeValues={":stored": {"S": STORED}},
            )
        except Conflict:
            stored = await self.lookup(url)
            if stored is not None:
                return stored
            raise
        return record

    # ------------------------------------------------------------------ entries
    def replacement(self, record: ImageRecord) -> str | ImagePlaceholder | None:
        """What an entry holds for ``record``'s URL: the CDN URL, a placeholder, or None."""
        if record.status == STORED and record.key:
            return self.cdn_url(record.key)
        if record.status == DOWNLOAD_FAILED:
            return ImagePlaceholder(image_url=record.source_url, error_message=record.error_message or "")
        return None

    def replacement_for(self, item: ImageItem, records: Mapping[str, ImageRecord]) -> ImageItem | None:
        """The new value of one image slot of an entry, or None to leave it.

        A source URL becomes its CDN URL or its failure placeholder; a placeholder
        becomes the CDN URL once a retry stored the image. CDN URLs and placeholders
        of URLs without a (newer) success stay as they are.
        """
        if isinstance(item, str):
            record = records.get(item)
            return None if record is None else self.replacement(record)
        record = records.get(item.image_url)
        if record is not None and record.status == STORED and record.key:
            return self.cdn_url(record.key)
        return None

    async def resolve_entry(self, entry: AnimeEntry) -> AnimeEntry:
        """A copy of ``entry`` whose image URLs point at our CDN where the image is stored,
        and at a placeholder where its download failed for good; unknown URLs stay."""
        urls = [_source_of(lst[i]) for lst, i in _model_lists(entry)]
        if not urls:
            return entry
        records = await self.lookup_many(urls)
        if not records:
            return entry
        return self._resolved(entry, records)

    def _resolved(self, entry: AnimeEntry, records: Mapping[str, ImageRecord]) -> AnimeEntry:
        resolved = entry.model_copy(deep=True)
        for lst, i in _model_lists(resolved):
            new = self.replacement_for(lst[i], records)
            if new is not None:
                lst[i] = new
        return resolved

    def entry_changes(
        self, doc: Mapping[str, JsonValue], records: Mapping[str, ImageRecord]
    ) -> dict[str, JsonValue]:
        """Document path -> new JSON value of every image slot of ``doc`` (an entry's JSON,
        or a projection of its ``images`` and ``characters``) that ``records`` change."""
        changes: dict[str, JsonValue] = {}
        for path, raw in _doc_slots(doc):
            item = _item(raw)
            if item is None:
                continue
            new = self.replacement_for(item, records)
            if new is None:
                continue
            value: JsonValue = new if isinstance(new, str) else new.to_json_dict()
            if value != raw:
                changes[path] = value
        return changes

    async def apply_to_stored_entry(
        self, entries: EntryStore, anime_id: str, records: Mapping[str, ImageRecord] | None = None
    ) -> int | None:
        """Rewrite the image slots of the stored entry ``anime_id`` from the map.

        ``records`` are the ones to apply (looked up for the entry's URLs when None).
        Targeted: one ``UpdateItem`` per 60 slots that sets only those slots and is
        conditional on the version read, so a concurrent commit is never overwritten;
        on a lost race the entry is read again and the changes recomputed. An entry
        whose lists are kept outside the item (very large) is rewritten whole with a
        versioned put instead.

        Returns
        -------
        int | None
            The entry's version after the update; None when there is no such entry
            (its commit will resolve the URLs itself) or nothing changed.
        """
        return (await self.apply_images(entries, anime_id, records)).version

    async def apply_images(
        self,
        entries: EntryStore,
        anime_id: str,
        records: Mapping[str, ImageRecord] | None = None,
        *,
        current: Mapping[str, JsonValue] | None = None,
    ) -> AppliedImages:
        """:meth:`apply_to_stored_entry`, telling also whether the entry exists and its images.

        ``current`` is the entry's :data:`ENTRY_IMAGE_FIELDS` projection when the caller has
        just read it (consistently, after writing the map): the first attempt uses it
        instead of reading the entry again.
        """
        doc: Mapping[str, JsonValue] | None = current
        for _ in range(_UPDATE_ATTEMPTS):
            if doc is None:
                doc = await entries.get(anime_id, list(ENTRY_IMAGE_FIELDS), consistent=True)
                if doc is None:
                    return AppliedImages(found=False)
            found = records
            if found is None:
                found = await self.lookup_many([u for _, raw in _doc_slots(doc) if (u := _url_of(raw))])
            changes = self.entry_changes(doc, found)
            images = doc.get("images")
            if not changes:
                return AppliedImages(found=True, images=images)
            version = doc.get("version")
            expected = int(version) if isinstance(version, int | float) else None
            try:
                new_version = await self._update(entries, anime_id, changes, expected)
            except Conflict:
                doc = None  # someone wrote in between: read again, recompute
                continue
            except Permanent:
                try:
                    new_version = await self._rewrite(entries, anime_id, found)
                except Conflict:
                    doc = None
                    continue
            return AppliedImages(found=True, version=new_version, images=images)
        raise Conflict(
            f"entry {anime_id} kept changing while its images were applied ({_UPDATE_ATTEMPTS} attempts)"
        )

    async def _update(
        self, entries: EntryStore, anime_id: str, changes: dict[str, JsonValue], expected: int | None
    ) -> int:
        paths = sorted(changes)
        version = expected
        for start in range(0, len(paths), _PATHS_PER_UPDATE):
            part = {p: changes[p] for p in paths[start : start + _PATHS_PER_UPDATE]}
            version = await entries.update_fields(anime_id, set=part, expected_version=version)
        assert version is not None
        return version

    async def _rewrite(self, entries: EntryStore, anime_id: str, records: Mapping[str, ImageRecord]) -> int:
        entry = await entries.get(anime_id, consistent=True)
        if entry is None:
            raise Conflict(f"entry {anime_id} disappeared")
        stored = await entries.put(self._resolved(entry, records), expected_version=entry.version)
        return stored.version or 0


# ---------------------------------------------------------------------- image slots
_KINDS = ("covers", "posters", "banners")


def _model_lists(entry: AnimeEntry) -> Iterator[tuple[list[ImageItem], int]]:
    lists = [getattr(entry.images, k) for k in _KINDS] + [c.images for c in entry.characters]
    for lst in lists:
        for i in range(len(lst)):
            yield lst, i


def _source_of(item: ImageItem) -> str:
    return item if isinstance(item, str) else item.image_url


def _doc_slots(doc: Mapping[str, JsonValue]) -> Iterator[tuple[str, JsonValue]]:
    images = doc.get("images")
    if isinstance(images, dict):
        for kind in _KINDS:
            lst = images.get(kind)
            if isinstance(lst, list):
                for i, raw in enumerate(lst):
                    yield f"images.{kind}[{i}]", raw
    characters = doc.get("characters")
    if isinstance(characters, list):
        for j, character in enumerate(characters):
            lst = character.get("images") if isinstance(character, dict) else None
            if isinstance(lst, list):
                for k, raw in enumerate(lst):
                    yield f"characters[{j}].images[{k}]", raw


def _item(raw: JsonValue) -> ImageItem | None:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict) and isinstance(raw.get("image_url"), str):
        return ImagePlaceholder.from_json_dict(raw)
    return None


def _url_of(raw: JsonValue) -> str | None:
    item = _item(raw)
    return None if item is None else _source_of(item)


def _record(item: Mapping[str, Mapping[str, str]]) -> ImageRecord:
    def s(name: str) -> str | None:
        value = item.get(name)
        return None if value is None else value.get("S") or value.get("N")

    def n(name: str) -> int | None:
        text = s(name)
        return int(text) if text else None

    return ImageRecord(
        source_url=s("source_url") or "",
        status=STORED if s("status") == STORED else DOWNLOAD_FAILED,
        key=s("key"),
        error_message=s("error_message"),
        last_attempt=n("last_attempt"),
        retry_count=n("retry_count") or 0,
        content_type=s("content_type"),
        ttl=n("ttl"),
    )
