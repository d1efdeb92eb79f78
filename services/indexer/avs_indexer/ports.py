"""The ports the indexer's handlers and jobs use, built from settings in one place."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.dynamo_image_map import DynamoImageMap
from avs_shared.adapters.dynamo_locks import DynamoLockTable
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.ports.embedding import Embedder
from avs_shared.ports.messaging import Publisher
from avs_shared.ports.storage import IdempotencyStore
from avs_shared.ports.vector import VectorIndex
from avs_shared.runtime import build_runtime
from avs_shared.runtime.components import (
    embedder_from_settings,
    shared_embedder,
    shared_vector_index,
    vector_index_from_settings,
)
from avs_shared.runtime.context import RunContext
from avs_shared.settings import ServiceSettings


@dataclass(frozen=True)
class IndexerPorts:
    settings: ServiceSettings
    aws: AwsClients
    objects: S3ObjectStore
    entries: DynamoEntryStore
    index: VectorIndex
    embedder: Embedder
    cache: RedisCache
    locks: DynamoLockTable
    images: DynamoImageMap
    publisher: Publisher
    idempotency: IdempotencyStore
    claim_check: ClaimCheck

    async def ready_index(self) -> VectorIndex:
        """The index, opened for this embedder's model (a different recorded model is refused)."""
        await self.index.ensure_collection(self.embedder.model_name, self.embedder.dimension)
        return self.index


def _ports(
    settings: ServiceSettings,
    aws: AwsClients,
    index: VectorIndex,
    embedder: Embedder,
    cache: RedisCache,
    publisher: Publisher,
    idempotency: IdempotencyStore,
    claim_check: ClaimCheck,
) -> IndexerPorts:
    objects = S3ObjectStore(aws)
    return IndexerPorts(
        settings=settings,
        aws=aws,
        objects=objects,
        entries=DynamoEntryStore(aws, objects=objects),
        index=index,
        embedder=embedder,
        cache=cache,
        locks=DynamoLockTable(aws),
        images=DynamoImageMap(aws, cdn_domain=settings.cdn_domain),
        publisher=publisher,
        idempotency=idempotency,
        claim_check=claim_check,
    )


def indexer_ports(ctx: RunContext) -> IndexerPorts:
    """The ports inside the all-in-one runner: the index and embedder are the process's shared ones."""

    def build() -> IndexerPorts:
        cache = RedisCache(ctx.settings.redis_url)
        ctx.resources.push_async_callback(cache.close)
        return _ports(
            ctx.settings,
            ctx.aws,
            shared_vector_index(ctx),
            shared_embedder(ctx),
            cache,
            ctx.publisher,
            ctx.idempotency,
            ctx.claim_check,
        )

    return ctx.component("indexer-ports", build)


@contextlib.asynccontextmanager
async def open_indexer_ports(settings: ServiceSettings) -> AsyncIterator[IndexerPorts]:
    """The ports for a process of its own (a CLI job or the indexer container)."""
    async with contextlib.AsyncExitStack() as stack:
        aws = await stack.enter_async_context(AwsClients(settings))
        publisher, idempotency, claim_check = await build_runtime(aws, settings)
        index = vector_index_from_settings(settings)
        stack.push_async_callback(index.close)
        cache = RedisCache(settings.redis_url)
        stack.push_async_callback(cache.close)
        yield _ports(
            settings,
            aws,
            index,
            embedder_from_settings(settings),
            cache,
            publisher,
            idempotency,
            claim_check,
        )
