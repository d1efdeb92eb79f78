"""The image ingestor's parts, built from settings in one place."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog

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
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.ports.messaging import Publisher
from avs_shared.ports.storage import Cache, IdempotencyStore
from avs_shared.ports.vector import VectorIndex
from avs_shared.runtime import build_runtime
from avs_shared.runtime.components import shared_vector_index, vector_index_from_settings
from avs_shared.runtime.context import RunContext
from avs_shared.settings import load_settings

log = structlog.get_logger(__name__)


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
    index: VectorIndex | None = None,
) -> ImageIngestor:
    """The ingestor over the real adapters; ``index`` (optional) gets the search payload updates."""
    return ImageIngestor(
        settings=settings,
        images=DynamoImageMap(aws, cdn_domain=settings.cdn_domain),
        objects=ImageObjects(aws),
        entries=DynamoEntryStore(aws, objects=S3ObjectStore(aws)),
        downloader=downloader or Downloader(settings),
        failures=FailureQueue(aws),
        cache=cache,
        index=index,
    )


def ingestor_ports(ctx: RunContext) -> IngestorPorts:
    """The ports inside the all-in-one runner (its own settings read from the environment); the
    vector index is the process's shared one (the indexer's)."""

    def build() -> IngestorPorts:
        settings = load_settings(ImageIngestorSettings)
        cache = RedisCache(settings.redis_url)
        ctx.resources.push_async_callback(cache.close)
        ingestor = build_ingestor(settings, ctx.aws, cache, index=shared_vector_index(ctx))
        ctx.resources.push_async_callback(ingestor.downloader.close)
        return IngestorPorts(settings, ctx.aws, ingestor, ctx.publisher, ctx.idempotency, ctx.claim_check)

    return ctx.component("image-ingestor-ports", build)


@contextlib.asynccontextmanager
async def open_ingestor_ports(settings: ImageIngestorSettings) -> AsyncIterator[IngestorPorts]:
    """The ports for a process of its own (the image ingestor container).

    Search payloads are updated through a Qdrant server when ``QDRANT_URL`` is set; the
    embedded Qdrant Edge shard belongs to one process (``avs run``), so without a server
    they catch up at each entry's next commit.
    """
    async with contextlib.AsyncExitStack() as stack:
        aws = await stack.enter_async_context(AwsClients(settings))
        publisher, idempotency, claim_check = await build_runtime(aws, settings)
        cache = RedisCache(settings.redis_url)
        stack.push_async_callback(cache.close)
        index: VectorIndex | None = None
        if settings.qdrant_url:
            index = vector_index_from_settings(settings)
            stack.push_async_callback(index.close)
        else:
            log.info(
                "search_payload.no_index",
                detail="QDRANT_URL is not set: the image shown in search results changes to the "
                "re-hosted one at each entry's next commit; set QDRANT_URL to update it at once",
            )
        ingestor = build_ingestor(settings, aws, cache, index=index)
        stack.push_async_callback(ingestor.downloader.close)
        yield IngestorPorts(settings, aws, ingestor, publisher, idempotency, claim_check)
