"""schemathesis against the live OpenAPI document: no operation answers with a server error.

The app is the real one (``create_app``) over the search tests' stack (the real model,
the Qdrant Edge shard holding the 64-anime sample, the session's moto server and
redis-server), served by uvicorn on a loopback port in a thread of its own. The
schema is fetched from that server's ``/openapi.json``, and every operation in it
(protected review and operator routes included: the calls carry an operator key) is
called with a bounded number of generated requests, checking that

* no response is a server error (``not_a_server_error``), and
* every response conforms to the status codes, headers and body schemas the
  document declares (``status_code_conformance``, ``content_type_conformance``,
  ``response_schema_conformance``).

Each operation gets ``EXAMPLES`` generated requests, valid and invalid ones (schemathesis's
positive and negative modes), plus, for ``/anime/{anime_id}...``, requests about anime
that exist. The third-party proxy points at a loopback fake upstream that answers 200
to everything, with per-provider budgets far above what the run needs: an upstream
failure or a spent budget are documented 5xx answers (502/503/504), tested in
``test_proxy.py``, not server errors.

The run is derandomised (the same requests on every run) and uses no Hypothesis
example database, so a failure reproduces. To explore further by hand::

    AVS_SCHEMATHESIS_EXAMPLES=500 AVS_SCHEMATHESIS_RANDOM=1 pytest tests/api/test_schemathesis.py
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from avs_api.app import create_app
from avs_api.auth import generate_api_key
from avs_api.search.service import clear_caches
from avs_api.settings import ApiSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.embedded.processes import RedisServer, free_port
from avs_shared.topology import TOPOLOGY

REPO = Path(__file__).resolve().parents[2]
REDIS_DB = 13  # a Redis database of its own, flushed at the start
EXAMPLES = int(os.environ.get("AVS_SCHEMATHESIS_EXAMPLES", "40"))  # per operation
OPERATOR = generate_api_key("schemathesis", "operator")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class LiveServer:
    """uvicorn serving ``app`` on a free loopback port, in a thread with its own event loop."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            access_log=False,
            log_config=None,  # leave the test session's logging alone
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="schemathesis-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("uvicorn stopped while starting; see the log above")
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn did not start within {timeout_s:g}s")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


class FakeUpstream:
    """Jikan, AniList and Kitsu in one loopback aiohttp server that answers 200 JSON to anything.

    It runs in a thread with its own event loop: the tests are synchronous, so the
    session's loop does not run while they call the API.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-upstream", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    async def _handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"data": {"path": request.path}})

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream()
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class LiveApi:
    url: str
    anime_ids: list[str]  # anime in the index and in DynamoDB


@pytest.fixture(scope="module")
async def live_api(
    search_stack: Any, aws: AwsClients, redis_server: RedisServer, upstream: FakeUpstream
) -> AsyncIterator[LiveApi]:
    """The app served by uvicorn over the sample stack, every sample anime in DynamoDB too."""
    # Another module may have reset moto since the sample was bootstrapped: provision (idempotent)
    # and write the sample entries again, so lookups of known ids reach their 200 path.
    await Provisioner(aws, TOPOLOGY, infra_dir=REPO / "infra").provision()
    await DynamoEntryStore(aws, objects=S3ObjectStore(aws)).batch_put(search_stack.entries)
    clear_caches(search_stack.index)
    redis_url = f"redis://{redis_server.host}:{redis_server.port}/{REDIS_DB}"
    redis = Redis(host=redis_server.host, port=redis_server.port, db=REDIS_DB)
    await redis.flushdb()
    await redis.aclose()
    api_settings = ApiSettings(
        service_name="avs-api-schemathesis",
        data_dir=search_stack.root,
        redis_url=redis_url,
        log_format="console",
        log_level="ERROR",
        rate_limit_enabled=False,  # hundreds of requests from one client in seconds
        api_keys=[OPERATOR.record],
        proxy_jikan_base_url=f"{upstream.url}/v4",
        proxy_anilist_url=f"{upstream.url}/graphql",
        proxy_kitsu_base_url=f"{upstream.url}/edge",
        proxy_key_prefix="schemathesis:proxy:",
        proxy_max_wait_seconds=0.0,
        proxy_jikan_per_second=100_000,
        proxy_jikan_per_minute=100_000,
        proxy_anilist_per_minute=100_000,
        proxy_kitsu_per_second=100_000,
        proxy_kitsu_per_minute=100_000,
    )
    server = LiveServer(create_app(api_settings, index=search_stack.index, embedder=search_stack.embedder))
    await asyncio.to_thread(server.start)
    try:
        yield LiveApi(server.url, [e.id for e in search_stack.entries[:3]])
    finally:
        await asyncio.to_thread(server.stop)


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation, from the app's OpenAPI document (built without I/O)."""
    document = create_app(ApiSettings(service_name="avs-api-schemathesis")).openapi()
    return [
        (method.upper(), path)
        for path, item in sorted(document["paths"].items())
        for method in item
        if method in {"get", "put", "post", "delete", "patch", "head", "options"}
    ]


@pytest.fixture(scope="module")
def api_schema(live_api: LiveApi) -> Any:
    """The schema as the running server publishes it."""
    return schemathesis.openapi.from_url(f"{live_api.url}/openapi.json")


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: v)
def test_no_operation_answers_with_a_server_error(
    api_schema: Any, live_api: LiveApi, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if "{anime_id}" in path:  # random UUIDs are never found: also ask about anime that exist
        strategies += [operation.as_strategy(path_parameters={"anime_id": i}) for i in live_api.anime_ids]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=os.environ.get("AVS_SCHEMATHESIS_RANDOM") != "1",
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def call(case: Any) -> None:
        case.call_and_validate(headers={"X-API-Key": OPERATOR.plaintext}, checks=CHECKS)

    call()
