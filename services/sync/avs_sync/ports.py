"""The ports the sync's jobs use, built from settings in one place."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.embedding import DIMENSION, MODEL_NAME
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.ports.entries import EntryStore
from avs_shared.ports.messaging import Publisher
from avs_shared.ports.vector import VectorIndex
from avs_shared.runtime import build_runtime
from avs_shared.runtime.components import shared_vector_index, vector_index_from_settings
from avs_shared.runtime.context import RunContext
from avs_shared.settings import load_settings
from avs_sync.locks import PublishLocks
from avs_sync.reviews import ReviewQueue
from avs_sync.schedules import EpisodeSchedules
from avs_sync.settings import SyncSettings
from avs_sync.versions import SourceVersions


@dataclass(frozen=True)
class SyncPorts:
    """Everything the weekly sync and the daily scheduler touch.

    ``index_model`` is the (model, dimension) the vector collection was built with;
    the sync only updates payloads, but opening the collection checks it.
    """

    settings: SyncSettings
    aws: AwsClients
    entries: EntryStore
    index: VectorIndex
    publisher: Publisher
    claim_check: ClaimCheck
    locks: PublishLocks
    reviews: ReviewQueue
    versions: SourceVersions
    schedules: EpisodeSchedules
    index_model: tuple[str, int] = field(default=(MODEL_NAME, DIMENSION))

    async def ready_index(self) -> VectorIndex:
        """The vector index, opened (the collection is created if missing)."""
        await self.index.ensure_collection(*self.index_model)
        return self.index


def build_sync_ports(
    settings: SyncSettings,
    aws: AwsClients,
    index: VectorIndex,
    publisher: Publisher,
    claim_check: ClaimCheck,
    *,
    lease_s: float = 120.0,
) -> SyncPorts:
    objects = S3ObjectStore(aws)
    return SyncPorts(
        settings=settings,
        aws=aws,
        entries=DynamoEntryStore(aws, objects=objects),
        index=index,
        publisher=publisher,
        claim_check=claim_check,
        locks=PublishLocks(aws, lease_s=lease_s),
        reviews=ReviewQueue(aws, claim_check),
        versions=SourceVersions(aws),
        schedules=EpisodeSchedules(aws),
    )


def sync_ports(ctx: RunContext) -> SyncPorts:
    """The ports inside the all-in-one runner (the vector index is the process's shared one)."""

    def build() -> SyncPorts:
        settings = load_settings(SyncSettings)
        return build_sync_ports(settings, ctx.aws, shared_vector_index(ctx), ctx.publisher, ctx.claim_check)

    return ctx.component("sync-ports", build)


@contextlib.asynccontextmanager
async def open_sync_ports(settings: SyncSettings) -> AsyncIterator[SyncPorts]:
    """The ports for a process of its own (a CLI command or the sync container).

    The vector index is built but not opened: a dry run never touches it, and opening
    the embedded shard fails while ``avs run`` owns it.
    """
    async with contextlib.AsyncExitStack() as stack:
        aws = await stack.enter_async_context(AwsClients(settings))
        publisher, _, claim_check = await build_runtime(aws, settings)
        index = vector_index_from_settings(settings)
        stack.push_async_callback(index.close)
        yield build_sync_ports(settings, aws, index, publisher, claim_check)
