"""The image ingestor's parts, built from settings in one place."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from avs_image_ingestor.downloader import Downloader
from avs_image_ingestor.failures import FailureQueue
from avs_image_ingestor.ingest import ImageIngestor
from avs_image_ingestor.settings import ImageIngestorSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.dynamo_image_map import DynamoImageMap
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.ports.messaging import Publisher
from avs_shared.ports.storage import Cache, IdempotencyStore
from avs_shared.runtime import build_runtime
from avs_shared.runtime.context import RunContext
from avs_shared.settings import load_settings


@dataclass(frozen=True)
class IngestorPorts:
    settings: ImageIngestorSettings
    aws: AwsClients
    ingestor: ImageIngestor
    publisher: Publisher
    idempotency: IdempotencyStore
    claim_check: ClaimCheck


def build_ingestor(
    settings: ImageIngestorSettings,
    aws: AwsClients,
    cache: Cache | None,
    downloader: Downloader | None = None,
) -> ImageIngestor:
    objects = S3ObjectStore(aws)
    return ImageIngestor(
        settings=settings,
        images=DynamoImageMap(aws, cdn_domain=settings.cdn_domain),
        objects=objects,
        entries=DynamoEntryStore(aws, objects=objects),
        downloader=downloader or Downloader(settings),
        failures=FailureQueue(aws),
        cache=cache,
    )


def ingestor_ports(ctx: RunContext) -> IngestorPorts:
    """The ports inside the all-in-one runner (its own settings read from the environment)."""

    def build() -> IngestorPorts:
        settings = load_settings(ImageIngestorSettings)
        cache = RedisCache(settings.redis_url)
        ctx.resources.push_async_callback(cache.close)
        ingestor = build_ingestor(settings, ctx.aws, cache)
        ctx.resources.push_async_callback(ingestor.downloader.close)
        return IngestorPorts(settings, ctx.aws, ingestor, ctx.publisher, ctx.idempotency, ctx.claim_check)

    return ctx.component("image-ingestor-ports", build)


@contextlib.asynccontextmanager
async def open_ingestor_ports(settings: ImageIngestorSettings) -> AsyncIterator[IngestorPorts]:
    """The ports for a process of its own (the image ingestor container)."""
    async with contextlib.AsyncExitStack() as stack:
        aws = await stack.enter_async_context(AwsClients(settings))
        publisher, idempotency, claim_check = await build_runtime(aws, settings)
        cache = RedisCache(settings.redis_url)
        stack.push_async_callback(cache.close)
        ingestor = build_ingestor(settings, aws, cache)
        stack.push_async_callback(ingestor.downloader.close)
        yield IngestorPorts(settings, aws, ingestor, publisher, idempotency, claim_check)
