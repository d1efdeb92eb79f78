"""Fixtures of the end-to-end suite: the whole system running as ``avs run`` runs it.

``stack`` (one per module, shared by its scenarios, each with anime of its own) provisions
a clean topology on the session's AWS endpoint (the moto server, or LocalStack under
``make e2e-localstack``) and the session's Redis, starts the fake providers and the image
host on loopback, and then composes the services exactly as ``avs_cli.run.serve_all``
does: one :class:`RunContext`, every service's handler specs from the registry in one
:class:`Worker`, the API from ``create_app`` sharing the context's vector index and
embedder (the real model). Each service reads its own settings from the environment,
as under ``avs run``. The weekly sync is started by calling the registry's
``weekly-sync`` job (the runner's cron would call the same function on Saturdays).

``trace_switch`` installs :class:`SwitchableTracerProvider` as the process's global tracer
provider once per session (it stays a no-op unless a test switches it on).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from e2e_kit import (
    CDN_DOMAIN,
    E2E_ANIME,
    REVIEW_TIMEOUT_S,
    REVIEWER_KEY,
    ImageHost,
    LoopbackProviders,
    OfflineSource,
    Stack,
    SwitchableTracerProvider,
)
from opentelemetry import trace

from avs_api.app import create_app
from avs_api.auth import hash_key
from avs_api.settings import ApiSettings
from avs_cli.registry import service_cron_jobs, service_handler_specs
from avs_cli.settings import LocalSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.embedded.processes import MotoServer, RedisServer
from avs_shared.runtime import build_runtime
from avs_shared.runtime.components import shared_embedder, shared_vector_index
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.worker import Worker
from avs_shared.settings import load_settings
from avs_shared.topology import TOPOLOGY

INFRA = Path(__file__).resolve().parents[2] / "infra"


@pytest.fixture(scope="session")
def trace_switch() -> Iterator[SwitchableTracerProvider]:
    switch = SwitchableTracerProvider()
    trace.set_tracer_provider(switch)  # refused (with a warning) if a provider was set before
    if trace.get_tracer_provider() is not switch:
        raise RuntimeError(
            "another global tracer provider was installed before the e2e suite; the single-trace "
            "test needs its own (run the e2e suite in a process of its own)"
        )
    yield switch
    switch.target = trace.NoOpTracerProvider()


def stack_environment(
    *, data_dir: Path, redis_url: str, source: Path, providers: LoopbackProviders
) -> dict[str, str]:
    """The environment the services read their settings from: loopback everything, fast retries."""
    env = {
        "AVS_DATA_DIR": str(data_dir),
        "AVS_REDIS_URL": redis_url,
        "AVS_LOG_FORMAT": "console",
        "AVS_WORKER_POLL_WAIT_SECONDS": "1",
        "AVS_WORKER_DRAIN_TIMEOUT_SECONDS": "10",
        "AVS_CDN_DOMAIN": CDN_DOMAIN,
        "HF_HUB_OFFLINE": "1",
        # The sync reads the hand-written file; no version lookup on GitHub.
        "AVS_SYNC_SOURCE_URL": str(source),
        "AVS_SYNC_VERSION_URL": "",
        # The enricher: the fakes, their limits out of the way, quick retries, short reviews.
        **providers.environment(),
        "AVS_ENRICHER_MAX_ATTEMPTS": "2",
        "AVS_ENRICHER_RETRY_BACKOFF_SECONDS": "0.05",
        "AVS_ENRICHER_TIMEOUT_SECONDS": "10",
        "AVS_ENRICHER_JIKAN_PER_SECOND": "1000",
        "AVS_ENRICHER_JIKAN_PER_MINUTE": "10000",
        "AVS_ENRICHER_ANILIST_PER_MINUTE": "10000",
        "AVS_ENRICHER_KITSU_PER_SECOND": "1000",
        "AVS_ENRICHER_KITSU_PER_MINUTE": "10000",
        "AVS_ENRICHER_ANIDB_SECONDS_PER_REQUEST": "0.001",
        "AVS_ENRICHER_ANIMESCHEDULE_PER_SECOND": "1000",
        "AVS_ENRICHER_ANIMESCHEDULE_PER_MINUTE": "10000",
        "AVS_ENRICHER_REVIEW_TIMEOUT_SECONDS": str(REVIEW_TIMEOUT_S),
        "AVS_ENRICHER_REVIEW_HEARTBEAT_SECONDS": str(REVIEW_TIMEOUT_S - 1),
        # The image ingestor may reach the loopback image host.
        "AVS_IMAGE_ALLOWED_NETWORKS": json.dumps(["127.0.0.0/8"]),
        "AVS_IMAGE_DOWNLOAD_ATTEMPTS": "2",
        "AVS_IMAGE_BACKOFF_BASE_SECONDS": "0.05",
        "AVS_IMAGE_BACKOFF_MAX_SECONDS": "0.1",
        # The API: one reviewer key; the per-client limiter stays off (tests/conftest.py).
        "AVS_API_KEYS": json.dumps([{"name": "rita", "role": "reviewer", "sha256": hash_key(REVIEWER_KEY)}]),
        "AVS_REVIEW_SESSION_SECRET": "e2e-review-session-secret-only",
    }
    return env


@pytest.fixture(scope="module")
async def stack(
    moto_server: MotoServer,
    redis_server: RedisServer,
    aws: AwsClients,
    trace_switch: SwitchableTracerProvider,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    moto_server.reset()
    await Provisioner(aws, TOPOLOGY, infra_dir=INFRA).provision()
    root = tmp_path_factory.mktemp("e2e")
    async with contextlib.AsyncExitStack() as outer:
        images = ImageHost()
        await images.start()
        outer.push_async_callback(images.close)
        providers = LoopbackProviders(images, E2E_ANIME)
        await providers.start()
        outer.push_async_callback(providers.stop)
        source = OfflineSource(root / "anime-offline-database.json", providers)
        patch = pytest.MonkeyPatch()
        outer.callback(patch.undo)
        env = stack_environment(
            data_dir=root / "data", redis_url=redis_server.url, source=source.path, providers=providers
        )
        for name, value in env.items():
            patch.setenv(name, value)
        assert os.environ.get("AWS_ENDPOINT_URL"), "the session fixtures set the AWS endpoint"

        # What serve_all does, in order: clients, the shared runtime, the context, the
        # registry's consumers and jobs, one worker, the API on the shared index and model.
        settings = load_settings(LocalSettings)
        resources = await outer.enter_async_context(contextlib.AsyncExitStack())
        run_aws = await resources.enter_async_context(AwsClients(settings))
        publisher, idempotency, claim_check = await build_runtime(run_aws, settings)
        ctx = RunContext(
            settings=settings,
            aws=run_aws,
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
            data_dir=settings.data_dir,
            resources=resources,
        )
        specs = service_handler_specs(ctx)
        cron = service_cron_jobs(ctx)
        embedder = shared_embedder(ctx)
        # The model export (seconds) runs while the worker starts polling.
        warm = asyncio.create_task(asyncio.to_thread(embedder.warm_up))  # type: ignore[attr-defined]
        worker = Worker(
            specs,
            aws=run_aws,
            settings=settings,
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop), name="e2e-workers")

        async def stop_workers() -> None:
            stop.set()
            await asyncio.wait_for(running, timeout=60)

        resources.push_async_callback(stop_workers)  # before the context's parts close
        api = load_settings(ApiSettings)
        index = shared_vector_index(ctx)
        app = create_app(api, index=index, embedder=embedder)
        await outer.enter_async_context(app.router.lifespan_context(app))
        client = await outer.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://avs-e2e", timeout=60)
        )
        cache = RedisCache(redis_server.url)
        outer.push_async_callback(cache.close)
        objects = S3ObjectStore(run_aws)
        await warm
        stack = Stack(
            ctx=ctx,
            worker=worker,
            cron=cron,
            client=client,
            aws=run_aws,
            entries=DynamoEntryStore(run_aws, objects=objects),
            objects=objects,
            cache=cache,
            index=index,
            images=images,
            providers=providers,
            source=source,
        )
        yield stack
        if running.done():  # a worker that died under the tests is a failure of its own
            running.result()
