"""Re-hosting the images of one anime: dedup map first, download only what is new or due.

For each distinct URL of an ``image-requested`` event (bounded concurrency), after one
lookup of all of them in the map:

* STORED in the map (or remembered by this process): reuse its key, no download;
* DOWNLOAD_FAILED and its retry time not reached (and the request does not ask for
  a retry now, as a replayed failure does): skip, keep the placeholder;
* otherwise download, name the object ``images/<sha256-of-bytes>.<ext>`` (extension
  from the detected type), upload it unless it exists (a conditional PUT, see
  :mod:`avs_image_ingestor.objects`), and record ``url -> key`` once the event's
  downloads are done. A URL being
  downloaded, or stored by an event still running, in this process is not downloaded
  twice: the second request waits for the first (single flight) or reuses its result.
* a download that fails for good: its structured record goes to
  ``image-ingestion-failures`` first, then DOWNLOAD_FAILED goes to the map (a crash in
  between means another attempt, never a failure nobody was told about).

The map lookups, map writes and entry reads of concurrent events are merged into
batch calls (:mod:`avs_image_ingestor.batching`).

Then the entry, if it is committed, gets all its replacements in one targeted,
version-checked update (:meth:`DynamoImageMap.apply_images`), and its cached copy is
dropped. Last, with a vector index, the search payload's ``image`` (what result lists
show: :func:`avs_shared.schema.first_image` of the stored entry) is set on the anime's
point, which would otherwise keep the source URL until the next commit. The entry is
the source of truth: a payload update that fails is retried with the message, and the
rerun, finding the entry already up to date, compares the payload with it and fixes it.
Failures of our own stores (S3, DynamoDB, SQS, the index) propagate: the message is
retried; they never mark an image as failed.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

import structlog

from avs_image_ingestor.batching import Batcher
from avs_image_ingestor.downloader import Downloader, DownloadError
from avs_image_ingestor.failures import FailureQueue
from avs_image_ingestor.objects import ImageObjects
from avs_image_ingestor.settings import ImageIngestorSettings
from avs_shared.adapters.dynamo_image_map import (
    ENTRY_IMAGE_FIELDS,
    STORED,
    AppliedImages,
    DynamoImageMap,
    ImageRecord,
    url_hash,
)
from avs_shared.adapters.embedding import DIMENSION, MODEL_NAME
from avs_shared.errors import AvsError, Conflict, Retryable
from avs_shared.events import ImageRequested, RequestedImage
from avs_shared.events.failures import RETRY_FAILED, ImageIngestionFailure
from avs_shared.ports.entries import EntryStore, Projected
from avs_shared.ports.storage import Cache
from avs_shared.ports.vector import VectorIndex
from avs_shared.schema import Images, first_image
from avs_shared.topology import IMAGES_PREFIX

log = structlog.get_logger(__name__)

Action = Literal["reused", "stored", "deduplicated", "joined", "failed", "skipped"]
T = TypeVar("T")
_METADATA_URL_CHARS = 1800  # S3 user metadata is capped at 2 KB in total
SEARCH_IMAGE_FIELD = "image"
"""The payload field result lists show (``avs_indexer.documents.entry_payload``)."""


def entry_cache_key(anime_id: str) -> str:
    """The API's cached copy of an entry (``anime:<anime_id>``, ARCHITECTURE.md)."""
    return f"anime:{anime_id}"


@dataclass(frozen=True)
class UrlOutcome:
    url: str
    action: Action
    record: ImageRecord | None


@dataclass
class IngestReport:
    """What one event did: one outcome per distinct URL, and the entry's new version."""

    anime_id: str
    outcomes: list[UrlOutcome] = field(default_factory=list)
    entry_version: int | None = None
    payload_updated: bool = False

    def count(self, action: Action) -> int:
        return sum(1 for o in self.outcomes if o.action == action)


class SingleFlight(Generic[T]):
    """Concurrent calls for one key share the first caller's result (in this process)."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[T]] = {}

    async def run(self, key: str, work: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """``(result, led)``: ``led`` is False when another caller did the work."""
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running), False
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "never retrieved"
        self._running[key] = future
        try:
            result = await work()
        except asyncio.CancelledError:
            future.set_exception(Retryable(f"the work on {key} was interrupted; try again", retry_after_s=1))
            raise
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            return result, True
        finally:
            self._running.pop(key, None)


class ImageIngestor:
    """Resolves the images of ``image-requested`` events (see the module docstring).

    One per process: its single flights, remembered results and the downloader's
    limits are shared by every event it handles.

    ``index`` (optional) is the vector index whose payload ``image`` follows the entry;
    it is opened for ``index_model`` (the model the collection was built with) on first
    use. Without it, search payloads catch up at the entry's next commit.
    """

    def __init__(
        self,
        *,
        settings: ImageIngestorSettings,
        images: DynamoImageMap,
        objects: ImageObjects,
        entries: EntryStore,
        downloader: Downloader,
        failures: FailureQueue,
        cache: Cache | None = None,
        index: VectorIndex | None = None,
        index_model: tuple[str, int] = (MODEL_NAME, DIMENSION),
        clock: Callable[[], float] = time.time,
        remember: int = 10_000,
    ) -> None:
        self._settings = settings
        self._images = images
        self._objects = objects
        self._entries = entries
        self._downloader = downloader
        self._failures = failures
        self._cache = cache
        self._index = index
        self._index_model = index_model
        self._index_open = False
        self._clock = clock
        self._remember_max = remember
        self._stored: OrderedDict[str, ImageRecord] = OrderedDict()
        # Stored in S3 by an event still running; its map record is written when it ends.
        self._pending: dict[str, ImageRecord] = {}
        # Object keys known to exist (written or found by this process): no PUT for them.
        self._objects_known: OrderedDict[str, None] = OrderedDict()
        self._urls: SingleFlight[UrlOutcome] = SingleFlight()
        self._objects_flight: SingleFlight[bool] = SingleFlight()
        # The small DynamoDB calls of concurrent events, merged (see avs_image_ingestor.batching).
        self._lookups: Batcher[str, None, ImageRecord] = Batcher(self._lookup_batch, max_batch=100)
        self._writes: Batcher[str, ImageRecord, None] = Batcher(self._write_batch, max_batch=25)
        self._entry_reads: Batcher[str, None, Projected] = Batcher(self._read_batch, max_batch=100)

    @property
    def downloader(self) -> Downloader:
        return self._downloader

    @property
    def index(self) -> VectorIndex | None:
        return self._index

    def retry_due(self, record: ImageRecord) -> bool:
        """Whether a failed URL may be tried again now (backoff over failed rounds, capped)."""
        s = self._settings
        delay: float = min(
            s.image_failure_retry_after_seconds * 2 ** max(record.retry_count - 1, 0),
            s.image_failure_retry_max_seconds,
        )
        return (record.last_attempt or 0) + delay <= self._clock()

    async def ingest(
        self, event: ImageRequested, *, event_id: str = "", correlation_id: str = ""
    ) -> IngestReport:
        requested: dict[str, RequestedImage] = {}
        for image in event.images:
            requested.setdefault(image.url, image)
        known = {u: r for u in requested if (r := self._recalled(u)) is not None}
        missing = [u for u in requested if u not in known]
        if missing:
            known.update(await self._lookups.submit(dict.fromkeys(missing)))
        gate = asyncio.Semaphore(self._settings.image_event_concurrency)
        led: set[str] = set()  # URLs this event stored, whose map records it writes

        async def one(url: str) -> UrlOutcome:
            async with gate:
                return await self._resolve(
                    event.anime_id, requested[url], known.get(url), event_id, correlation_id, led
                )

        try:
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(one(u)) for u in requested]
            except BaseExceptionGroup as grouped:
                raise grouped.exceptions[0] from None  # the worker classifies the first failure
            report = IngestReport(event.anime_id, [t.result() for t in tasks])
            # The URLs this event stored go to the map (merged with other events' into
            # BatchWriteItems); then other processes may trust them.
            fresh = [self._pending[u] for u in requested if u in led]
            if fresh:
                await self._writes.submit({r.source_url: r for r in fresh})
            for record in fresh:
                self._remember(record)
        finally:
            for url in led:
                self._pending.pop(url, None)
        records = {o.url: o.record for o in report.outcomes if o.record is not None}
        # Read only now, after the map write: a commit whose entry is written before this
        # read is seen here; one written after it finds our records in the map.
        current = (await self._entry_reads.submit({event.anime_id: None})).get(event.anime_id)
        try:
            applied = (
                AppliedImages(found=False)
                if current is None
                else await self._images.apply_images(self._entries, event.anime_id, records, current=current)
            )
        except Conflict as exc:
            raise Retryable(f"entry {event.anime_id} kept changing: {exc}", retry_after_s=2) from exc
        report.entry_version = applied.version
        if applied.version is not None and self._cache is not None:
            await self._cache.delete(entry_cache_key(event.anime_id))
        if applied.found and self._index is not None:
            report.payload_updated = await self._search_payload(event.anime_id, applied, self._index)
        return report

    # ------------------------------------------------------------------ batch calls
    async def _lookup_batch(self, urls: dict[str, None]) -> dict[str, ImageRecord]:
        return await self._images.lookup_many(list(urls))

    async def _write_batch(self, records: dict[str, ImageRecord]) -> dict[str, None]:
        await self._images.record_stored_many(list(records.values()))
        return {}

    async def _read_batch(self, anime_ids: dict[str, None]) -> dict[str, Projected]:
        docs = await self._entries.batch_get(list(anime_ids), list(ENTRY_IMAGE_FIELDS), consistent=True)
        return {str(doc.get("id")): doc for doc in docs}

    # ------------------------------------------------------------------ the search payload
    async def _search_payload(self, anime_id: str, applied: AppliedImages, index: VectorIndex) -> bool:
        """Point the payload ``image`` of ``anime_id``'s vector point at the entry's first image.

        After an update of ours the stored entry's images are read back; when nothing
        changed, the images just read are current and the payload is only written if it
        differs (a rerun after a failed payload update). No point (not indexed yet, its
        commit writes the payload): nothing to do. True if the payload was written.
        """
        try:
            if not self._index_open:
                await index.ensure_collection(*self._index_model)
                self._index_open = True
            if applied.version is not None:
                doc = await self._entries.get(anime_id, ["images"], consistent=True)
                if doc is None:
                    return False  # deleted meanwhile
                image = first_image(_images(doc.get("images")))
            else:
                image = first_image(_images(applied.images))
                points = await index.get([anime_id])
                if not points or points[0].payload.get(SEARCH_IMAGE_FIELD) == image:
                    return False
            missing = await index.set_payload([anime_id], {SEARCH_IMAGE_FIELD: image})
        except AvsError as exc:
            log.warning("search_payload.failed", anime_id=anime_id, error=str(exc))
            raise Retryable(
                f"entry {anime_id} is updated but its search payload is not ({exc}); "
                "the retry updates the payload",
                retry_after_s=5,
            ) from exc
        return not missing

    # ------------------------------------------------------------------ one URL
    async def _resolve(
        self,
        anime_id: str,
        image: RequestedImage,
        record: ImageRecord | None,
        event_id: str,
        correlation_id: str,
        led: set[str],
    ) -> UrlOutcome:
        url = image.url
        if record is not None and record.status == STORED:
            return UrlOutcome(url, "reused", record)
        forced = image.context.get(RETRY_FAILED) is True
        if record is not None and not forced and not self.retry_due(record):
            return UrlOutcome(url, "skipped", record)

        async def work() -> UrlOutcome:
            recalled = self._recalled(url)  # finished by another event since our lookup
            if recalled is not None:
                return UrlOutcome(url, "reused", recalled)
            return await self._download(anime_id, image, record, event_id, correlation_id, led)

        outcome, leader = await self._urls.run(url, work)
        return outcome if leader else UrlOutcome(url, "joined", outcome.record)

    async def _download(
        self,
        anime_id: str,
        image: RequestedImage,
        previous: ImageRecord | None,
        event_id: str,
        correlation_id: str,
        led: set[str],
    ) -> UrlOutcome:
        url = image.url
        try:
            got = await self._downloader.fetch(url)
        except DownloadError as err:
            return await self._failed(anime_id, image, previous, err, event_id, correlation_id)
        key = f"{IMAGES_PREFIX}{got.sha256}.{got.image.ext}"

        async def upload() -> bool:
            if key in self._objects_known:  # the same bytes from another URL, seen before
                self._objects_known.move_to_end(key)
                return False
            mime = got.image.mime
            metadata = {"source_url": _metadata_url(url), "content_type": mime}
            uploaded = await self._objects.put_new(key, got.body, content_type=mime, metadata=metadata)
            self._objects_known[key] = None
            while len(self._objects_known) > self._remember_max:
                self._objects_known.popitem(last=False)
            return uploaded

        uploaded, leader = await self._objects_flight.run(key, upload)
        uploaded = uploaded and leader  # a concurrent twin with the same bytes uploaded it
        record = ImageRecord(source_url=url, status=STORED, key=key, content_type=got.image.mime)
        self._pending[url] = record
        led.add(url)
        log.debug(  # one INFO line per event (images.resolved), not per image
            "image.stored", anime_id=anime_id, url=url, key=key, uploaded=uploaded, attempts=got.attempts
        )
        return UrlOutcome(url, "stored" if uploaded else "deduplicated", record)

    async def _failed(
        self,
        anime_id: str,
        image: RequestedImage,
        previous: ImageRecord | None,
        err: DownloadError,
        event_id: str,
        correlation_id: str,
    ) -> UrlOutcome:
        rounds = (previous.retry_count if previous is not None and previous.status != STORED else 0) + 1
        request_context = {k: v for k, v in image.context.items() if k != RETRY_FAILED}
        failure = ImageIngestionFailure(
            anime_id=anime_id,
            image_url=image.url,
            error_message=str(err),
            timestamp=datetime.fromtimestamp(self._clock(), UTC),
            retry_count=max(err.attempts - 1, 0),
            context={
                "kind": image.kind,
                "request_context": request_context,
                "event_id": event_id,
                "correlation_id": correlation_id,
                "attempts": err.attempts,
                "failed_rounds": rounds,
                "permanent": err.permanent,
                "source_url_hash": url_hash(image.url),
            },
        )
        await self._failures.send(failure)  # first: a crash after it means a retry, not silence
        record = await self._images.record_failed(
            image.url,
            error_message=str(err),
            retry_count=rounds,
            ttl_s=self._settings.image_failure_ttl_seconds,
        )
        log.warning(
            "image.failed",
            anime_id=anime_id,
            url=image.url,
            error=str(err),
            attempts=err.attempts,
            failed_rounds=rounds,
        )
        if record.status == STORED:  # stored by another worker meanwhile
            self._remember(record)
            return UrlOutcome(image.url, "reused", record)
        return UrlOutcome(image.url, "failed", record)

    # ------------------------------------------------------------------ remembered results
    def _recalled(self, url: str) -> ImageRecord | None:
        """A STORED record this process wrote, or is about to write (its object exists)."""
        record = self._stored.get(url)
        if record is not None:
            self._stored.move_to_end(url)
            return record
        return self._pending.get(url)

    def _remember(self, record: ImageRecord) -> None:
        self._stored[record.source_url] = record
        self._stored.move_to_end(record.source_url)
        while len(self._stored) > self._remember_max:
            self._stored.popitem(last=False)


def _images(raw: object) -> Images:
    """A stored entry's ``images`` (JSON) as the model (empty when absent)."""
    return Images.from_json_dict(raw) if isinstance(raw, dict) else Images()


def _metadata_url(url: str) -> str:
    """``url`` as S3 user metadata can carry it: ASCII (non-ASCII percent-encoded), bounded."""
    ascii_url = urllib.parse.quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    return ascii_url if len(ascii_url) <= _METADATA_URL_CHARS else ascii_url[:_METADATA_URL_CHARS] + "..."
