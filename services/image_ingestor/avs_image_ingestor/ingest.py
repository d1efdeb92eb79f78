"""Re-hosting the images of one anime: dedup map first, download only what is new or due.

For each distinct URL of an ``image-requested`` event (bounded concurrency):

* STORED in the map (or remembered by this process): reuse its key, no download;
* DOWNLOAD_FAILED and its retry time not reached (and the request does not ask for
  a retry now, as a replayed failure does): skip, keep the placeholder;
* otherwise download, name the object ``images/<sha256-of-bytes>.<ext>`` (extension
  from the detected type), upload it unless it exists (HEAD first), and record
  ``url -> key`` (one BatchWriteItem per event, after its downloads). A URL being
  downloaded, or stored by an event still running, in this process is not downloaded
  twice: the second request waits for the first (single flight) or reuses its result.
* a download that fails for good: its structured record goes to
  ``image-ingestion-failures`` first, then DOWNLOAD_FAILED goes to the map (a crash in
  between means another attempt, never a failure nobody was told about).

Then the entry, if it is committed, gets all its replacements in one targeted,
version-checked update (:meth:`DynamoImageMap.apply_to_stored_entry`), and its cached
copy is dropped. Failures of our own stores (S3, DynamoDB, SQS) propagate: the message
is retried; they never mark an image as failed.
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

from avs_image_ingestor.downloader import Downloader, DownloadError
from avs_image_ingestor.failures import FailureQueue
from avs_image_ingestor.settings import ImageIngestorSettings
from avs_shared.adapters.dynamo_image_map import STORED, DynamoImageMap, ImageRecord, url_hash
from avs_shared.errors import Conflict, Retryable
from avs_shared.events import ImageRequested, RequestedImage
from avs_shared.events.failures import RETRY_FAILED, ImageIngestionFailure
from avs_shared.ports.entries import EntryStore
from avs_shared.ports.storage import Cache, ObjectStore
from avs_shared.topology import IMAGES_PREFIX

log = structlog.get_logger(__name__)

Action = Literal["reused", "stored", "deduplicated", "joined", "failed", "skipped"]
T = TypeVar("T")
_METADATA_URL_CHARS = 1800  # S3 user metadata is capped at 2 KB in total


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
    """

    def __init__(
        self,
        *,
        settings: ImageIngestorSettings,
        images: DynamoImageMap,
        objects: ObjectStore,
        entries: EntryStore,
        downloader: Downloader,
        failures: FailureQueue,
        cache: Cache | None = None,
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
        self._clock = clock
        self._remember_max = remember
        self._stored: OrderedDict[str, ImageRecord] = OrderedDict()
        # Stored in S3 by an event still running; its map record is written when it ends.
        self._pending: dict[str, ImageRecord] = {}
        self._urls: SingleFlight[UrlOutcome] = SingleFlight()
        self._objects_flight: SingleFlight[bool] = SingleFlight()

    @property
    def downloader(self) -> Downloader:
        return self._downloader

    def retry_due(self, record: ImageRecord) -> bool:
        """Whether a failed URL may be tried again now (backoff over failed rounds, capped)."""
        s = self._settings
        delay = min(
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
            known.update(await self._images.lookup_many(missing))
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
            # One BatchWriteItem for the URLs this event stored, then other events may trust them.
            fresh = [self._pending[u] for u in requested if u in led]
            await self._images.record_stored_many(fresh)
            for record in fresh:
                self._remember(record)
        finally:
            for url in led:
                self._pending.pop(url, None)
        records = {o.url: o.record for o in report.outcomes if o.record is not None}
        try:
            report.entry_version = await self._images.apply_to_stored_entry(
                self._entries, event.anime_id, records
            )
        except Conflict as exc:
            raise Retryable(f"entry {event.anime_id} kept changing: {exc}", retry_after_s=2) from exc
        if report.entry_version is not None and self._cache is not None:
            await self._cache.delete(entry_cache_key(event.anime_id))
        return report

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
            if await self._objects.head(key) is not None:
                return False
            metadata = {"source_url": _metadata_url(url), "content_type": got.image.mime}
            await self._objects.put(key, got.body, content_type=got.image.mime, metadata=metadata)
            return True

        uploaded, leader = await self._objects_flight.run(key, upload)
        uploaded = uploaded and leader  # a concurrent twin with the same bytes uploaded it
        record = ImageRecord(source_url=url, status=STORED, key=key, content_type=got.image.mime)
        self._pending[url] = record
        led.add(url)
        log.info(
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


def _metadata_url(url: str) -> str:
    """``url`` as S3 user metadata can carry it: ASCII (non-ASCII percent-encoded), bounded."""
    ascii_url = urllib.parse.quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    return ascii_url if len(ascii_url) <= _METADATA_URL_CHARS else ascii_url[:_METADATA_URL_CHARS] + "..."
