"""Helpers of the image ingestor tests: a programmable loopback image server, image bytes,
and the ingestor built from real adapters over the session's moto server."""

from __future__ import annotations

import asyncio
import json
import random
import struct
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from avs_image_ingestor.downloader import Downloader
from avs_image_ingestor.failures import FailureQueue
from avs_image_ingestor.ingest import ImageIngestor
from avs_image_ingestor.objects import ImageObjects
from avs_image_ingestor.settings import ImageIngestorSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.dynamo_image_map import DynamoImageMap
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.embedded.processes import free_port
from avs_shared.events.failures import ImageIngestionFailure
from avs_shared.ports.vector import VectorIndex
from avs_shared.settings import ServiceSettings
from avs_shared.topology import Q_IMAGE_FAILURES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MakeKit = Callable[..., "IngestorKit"]
"""``make(**settings_overrides, entries=None, index=None, index_model=None)``: an ingestor
over the provisioned moto."""


def png(seed: int) -> bytes:
    """A valid 1x1 PNG whose pixel depends on ``seed`` (distinct seeds, distinct bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixel = bytes([0, seed % 256, (seed // 256) % 256, (seed // 65536) % 256])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(pixel))
        + chunk(b"IEND", b"")
    )


def jpeg(seed: int, size: int = 2048) -> bytes:
    """JPEG-shaped bytes (SOI, JFIF header, ``size`` bytes of noise, EOI)."""
    noise = random.Random(seed).randbytes(size)
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + noise + b"\xff\xd9"


class ImageServer:
    """A loopback HTTP server whose routes a test programs; counts requests per path and the
    most requests it ever served at once."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def image(self, path: str, body: bytes, content_type: str = "image/png") -> str:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(body=body, content_type=content_type)

        self.routes[path] = handler
        return self.url(path)

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            handler = self.routes.get(request.path)
            if handler is None:
                return web.Response(status=404, text="not found")
            return await handler(request)
        finally:
            self.in_flight -= 1

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class FakeClock:
    """Epoch seconds that a test moves forward."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def ingestor_settings(base: ServiceSettings, **overrides: Any) -> ImageIngestorSettings:
    """Settings for tests: loopback allowed, fast retries, short deadlines."""
    values: dict[str, Any] = {
        "service_name": "avs-image-ingestor-test",
        "data_dir": base.data_dir,
        "redis_url": base.redis_url,
        "log_format": "console",
        "worker_poll_wait_seconds": 1,
        "image_allowed_networks": ["127.0.0.0/8"],
        "image_download_attempts": 3,
        "image_backoff_base_seconds": 0.01,
        "image_backoff_max_seconds": 0.05,
        "image_download_deadline_seconds": 10.0,
        "image_attempt_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return ImageIngestorSettings(**values)


@dataclass
class IngestorKit:
    """One ingestor and the real adapters under it."""

    settings: ImageIngestorSettings
    aws: AwsClients
    clock: FakeClock
    images: DynamoImageMap
    objects: S3ObjectStore
    entries: DynamoEntryStore
    downloader: Downloader
    cache: RedisCache
    ingestor: ImageIngestor
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()


def make_kit(
    aws: AwsClients,
    settings: ImageIngestorSettings,
    clock: FakeClock,
    *,
    entries: DynamoEntryStore | None = None,
    index: VectorIndex | None = None,
    index_model: tuple[str, int] | None = None,
    image_objects: ImageObjects | None = None,
) -> IngestorKit:
    """The ingestor over real adapters; ``index`` with the ``index_model`` its collection was
    built with (the production model when None)."""
    objects = S3ObjectStore(aws)
    images = DynamoImageMap(aws, cdn_domain=settings.cdn_domain, clock=clock)
    store = entries or DynamoEntryStore(aws, objects=objects)
    downloader = Downloader(settings)
    cache = RedisCache(settings.redis_url)
    ingestor = ImageIngestor(
        settings=settings,
        images=images,
        objects=image_objects or ImageObjects(aws),
        entries=store,
        downloader=downloader,
        failures=FailureQueue(aws),
        cache=cache,
        index=index,
        clock=clock,
        **({"index_model": index_model} if index_model is not None else {}),
    )
    kit = IngestorKit(settings, aws, clock, images, objects, store, downloader, cache, ingestor)
    kit.closers += [cache.close, downloader.close]
    return kit


async def failure_records(aws: AwsClients) -> list[ImageIngestionFailure]:
    """Receive and delete every message of ``image-ingestion-failures``."""
    sqs = await aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName=Q_IMAGE_FAILURES))["QueueUrl"]
    found: list[ImageIngestionFailure] = []
    while True:
        resp = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        batch = resp.get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(ImageIngestionFailure.from_json(message["Body"]))
            await sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


async def image_keys(aws: AwsClients, bucket: str) -> list[str]:
    s3 = await aws.client("s3")
    resp = await s3.list_objects_v2(Bucket=bucket, Prefix="images/")
    return sorted(o["Key"] for o in resp.get("Contents", []))


async def never_answer(request: web.Request) -> web.StreamResponse:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
