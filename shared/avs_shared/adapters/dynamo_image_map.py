"""The image deduplication map (``image-deduplication-map``): source URL -> stored object or failure.

One item per source URL, keyed by ``source_url_hash`` (SHA-256 of the URL):

* ``status = "STORED"``: ``key`` is ``images/<sha256-of-bytes>.<ext>``; served at
  ``https://<cdn_domain>/<key>``.
* ``status = "DOWNLOAD_FAILED"``: ``error_message``, ``last_attempt`` (epoch seconds),
  ``retry_count`` and a ``ttl`` after which the record disappears and the URL is tried
  afresh.

The image ingestor writes the map; the indexer's commit reads it so an entry committed
after its images were ingested gets CDN URLs too (both orders converge).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Literal

from avs_shared.adapters.aws import AwsClients
from avs_shared.schema import AnimeEntry, ImagePlaceholder
from avs_shared.topology import T_IMAGE_DEDUP

ImageStatus = Literal["STORED", "DOWNLOAD_FAILED"]


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ImageRecord:
    source_url: str
    status: ImageStatus
    key: str | None = None
    error_message: str | None = None
    last_attempt: int | None = None
    retry_count: int = 0


class DynamoImageMap:
    """Reads (and, for the ingestor, writes) the dedup map."""

    def __init__(self, aws: AwsClients, *, cdn_domain: str, table: str = T_IMAGE_DEDUP) -> None:
        self._aws = aws
        self._cdn = cdn_domain
        self._table = table

    def cdn_url(self, key: str) -> str:
        return f"https://{self._cdn}/{key}"

    async def lookup_many(self, urls: list[str]) -> dict[str, ImageRecord]:
        """The records of the URLs that have one (BatchGetItem, unprocessed keys retried)."""
        ddb = await self._aws.client("dynamodb")
        wanted = {url_hash(u): u for u in dict.fromkeys(urls)}
        found: dict[str, ImageRecord] = {}
        hashes = list(wanted)
        for start in range(0, len(hashes), 100):
            keys = [{"source_url_hash": {"S": h}} for h in hashes[start : start + 100]]
            request = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(8):
                resp = await ddb.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    record = _record(item)
                    found[record.source_url] = record
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                await asyncio.sleep(0.05 * 2**attempt)
        return found

    async def resolve_entry(self, entry: AnimeEntry) -> AnimeEntry:
        """A copy of ``entry`` whose image URLs point at our CDN where the image is stored,
        and at a placeholder where its download failed for good; unknown URLs stay."""
        images = entry.images
        lists = [images.covers, images.posters, images.banners] + [c.images for c in entry.characters]
        urls = [u for lst in lists for u in lst if isinstance(u, str)]
        if not urls:
            return entry
        records = await self.lookup_many(urls)
        if not records:
            return entry
        resolved = entry.model_copy(deep=True)
        r_images = resolved.images
        for lst in [r_images.covers, r_images.posters, r_images.banners] + [
            c.images for c in resolved.characters
        ]:
            for i, item in enumerate(lst):
                if isinstance(item, str) and item in records:
                    replacement = self.replacement(records[item])
                    if replacement is not None:
                        lst[i] = replacement
        return resolved

    def replacement(self, record: ImageRecord) -> str | ImagePlaceholder | None:
        if record.status == "STORED" and record.key:
            return self.cdn_url(record.key)
        if record.status == "DOWNLOAD_FAILED":
            return ImagePlaceholder(image_url=record.source_url, error_message=record.error_message or "")
        return None


def _record(item: dict[str, dict[str, str]]) -> ImageRecord:
    def s(name: str) -> str | None:
        value = item.get(name)
        return None if value is None else value.get("S") or value.get("N")

    status = s("status")
    return ImageRecord(
        source_url=s("source_url") or "",
        status="STORED" if status == "STORED" else "DOWNLOAD_FAILED",
        key=s("key"),
        error_message=s("error_message"),
        last_attempt=int(s("last_attempt") or 0) or None,
        retry_count=int(s("retry_count") or 0),
    )
