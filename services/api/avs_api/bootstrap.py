"""The API's composition root: builds the adapters from settings, and its readiness checks."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from avs_api.http_cache import LocalResponses
from avs_api.readiness import ReadinessCheck
from avs_api.settings import ApiSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.embedding import MiniLMEmbedder
from avs_shared.adapters.embedding.process import ProcessEmbedder
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.ports.embedding import Embedder
from avs_shared.ports.vector import VectorIndex
from avs_shared.runtime.components import vector_index_from_settings
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.cron import CronJob
from avs_shared.topology import T_ENRICHED


@dataclass
class ApiResources:
    """Everything the routes use, opened in the app's lifespan and closed with it.

    ``index`` and ``embedder`` may be shared with other services of the same process
    (``avs run``): the embedded vector shard has one owner process.
    """

    settings: ApiSettings
    aws: AwsClients
    cache: RedisCache
    objects: S3ObjectStore
    entries: DynamoEntryStore
    index: VectorIndex
    embedder: Embedder
    #: Text search responses, kept in this process (see ``LocalResponses``).
    responses: LocalResponses = field(default_factory=LocalResponses)
    _index_ready: bool = field(default=False, repr=False)
    _index_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def ready_index(self) -> VectorIndex:
        """The vector index, opened once for the embedder's model.

        Raises whatever the adapter raises when the index is unreachable
        (``Retryable``) or built for another model (``Conflict``); the error
        handlers turn those into 503s.
        """
        if not self._index_ready:
            async with self._index_lock:
                if not self._index_ready:
                    await self.index.ensure_collection(self.embedder.model_name, self.embedder.dimension)
                    self._index_ready = True
        return self.index


#: onnxruntime threads per run of the API's own query embedder (see :func:`query_embedder`).
QUERY_EMBEDDING_THREADS = 1
#: The GIL switch interval of a serving API process (Python's default is 5 ms); see
#: :func:`short_gil_turns`.
GIL_SWITCH_INTERVAL_S = 0.0005


@contextlib.contextmanager
def short_gil_turns(interval_s: float = GIL_SWITCH_INTERVAL_S) -> Iterator[None]:
    """Shorten the GIL switch interval to ``interval_s`` while the API serves (restored after).

    A query embedding runs on a thread, and takes the GIL back twice (picking up the job,
    after onnxruntime's run; one text is tokenised holding it). While the event loop runs Python, each
    of those waits for the loop to be forced to yield, after the switch interval: with 5 ms,
    the embeddings (one at a time) stalled behind the loop and cores sat idle. Measured with
    ``bench/api.py`` (40,000 anime, hybrid search, concurrency 16, runs alternated): 419 and
    410 requests/s with 0.5 ms against 375 and 381 with 5 ms; a thread embedding beside a
    busy loop managed 345 instead of 79 queries/s.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, interval_s))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def query_model(settings: ApiSettings) -> MiniLMEmbedder:
    """The model the API embeds queries with: the configured backend, one onnxruntime thread per run.

    The API embeds one short query per request. A ~10-token query gains little from a
    second intra-op thread, and between runs onnxruntime's idle pool threads spin on the
    CPU the event loop and the vector index need. Measured with ``bench/api.py`` (40,000
    anime, 2 cores): a hybrid search costs 8.5 ms of CPU with one thread against 16 ms
    with one per core; 118 against 78 requests/s at concurrency 16, p50 8 against 20 ms
    at concurrency 1. The vectors are the same (cosine > 0.99999).
    """
    return MiniLMEmbedder(
        settings.data_dir,
        backend=settings.embedding_backend,
        batch_size=settings.embedding_batch_size,
        threads=QUERY_EMBEDDING_THREADS,
    )


def query_embedder(settings: ApiSettings) -> ProcessEmbedder | MiniLMEmbedder:
    """The API's own embedder: :func:`query_model` in a worker process of its own
    (``AVS_QUERY_EMBEDDING_PROCESS``, the default) or in this process."""
    if not settings.query_embedding_process:
        return query_model(settings)
    return ProcessEmbedder(
        settings.data_dir,
        backend=settings.embedding_backend,
        batch_size=settings.embedding_batch_size,
        threads=QUERY_EMBEDDING_THREADS,
    )


@contextlib.asynccontextmanager
async def open_resources(
    settings: ApiSettings, *, index: VectorIndex | None = None, embedder: Embedder | None = None
) -> AsyncIterator[ApiResources]:
    """Create the clients (they connect lazily, so this does no network I/O) and close them after.

    A shared ``index`` / ``embedder`` passed in is used and left open (its owner closes it).
    """
    async with contextlib.AsyncExitStack() as stack:

        def own_embedder() -> Embedder:
            created = query_embedder(settings)
            if isinstance(created, ProcessEmbedder):
                stack.push_async_callback(created.aclose)
            else:
                stack.callback(created.close)
            return created

        aws = await stack.enter_async_context(AwsClients(settings))
        cache = RedisCache(settings.redis_url, timeout_s=min(settings.ready_timeout_seconds, 1.0))
        stack.push_async_callback(cache.close)
        if index is None:
            index = vector_index_from_settings(settings)
            stack.push_async_callback(index.close)
        objects = S3ObjectStore(aws)
        yield ApiResources(
            settings=settings,
            aws=aws,
            cache=cache,
            objects=objects,
            entries=DynamoEntryStore(aws, objects=objects),
            index=index,
            embedder=embedder or own_embedder(),
        )


def readiness_checks(resources: ApiResources) -> list[ReadinessCheck]:
    """The dependencies ``GET /ready`` checks: DynamoDB, Redis and the vector index."""

    async def dynamodb() -> None:
        ddb = await resources.aws.client("dynamodb")
        await ddb.describe_table(TableName=T_ENRICHED)

    async def redis() -> None:
        if not await resources.cache.ping():
            raise ConnectionError(f"no PONG from Redis at {_redacted(resources.settings.redis_url)}")

    async def vector_index() -> None:
        index = await resources.ready_index()
        health = await index.health()
        if not health.ok:
            raise ConnectionError(health.detail or "the vector index reports not ok")

    return [
        ReadinessCheck("dynamodb", dynamodb),
        ReadinessCheck("redis", redis),
        ReadinessCheck("vector-index", vector_index),
    ]


def _redacted(url: str) -> str:
    """A Redis URL without its password."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


from avs_api.jobs import cron_jobs as _list_jobs  # noqa: E402
from avs_api.review.wiring import handler_specs, review_cron_jobs  # noqa: E402,F401


def cron_jobs(ctx: RunContext) -> dict[str, CronJob]:
    """The API's cron jobs: curated lists (``avs_api.jobs``) and review heartbeats."""
    return {**_list_jobs(ctx), **review_cron_jobs(ctx)}
