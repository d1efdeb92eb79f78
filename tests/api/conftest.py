"""Fixtures of the search tests: the 64-anime sample, bootstrapped once, behind the real API.

* ``search_stack`` (session): the real all-MiniLM-L6-v2 model (ONNX int8, exported
  once into a session directory) and a Qdrant Edge shard in that directory, loaded
  with ``avs_indexer.bulk.bootstrap`` of the project sample over a freshly
  provisioned moto (the session's moto server and redis-server).
* ``search_api`` (module): the app from ``create_app`` with that same index and
  embedder, served through ``httpx.ASGITransport`` inside the app's lifespan.

Robust to test order: the search endpoints read only the vector index (in this
session's own directory, which no other test touches) and Redis, so other modules
resetting moto change nothing they see. Each module still starts from a known state:
every sample anime active again (a test may orphan one), the shard re-bootstrapped
if it lost or gained points, and the search response cache and in-process caches
emptied. The response cache lives in a Redis database of its own (:data:`REDIS_DB`).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from avs_api.app import create_app
from avs_api.bootstrap import ApiResources
from avs_api.search.service import clear_caches
from avs_api.settings import ApiSettings
from avs_indexer.bootstrap import sample_path
from avs_indexer.bulk import bootstrap
from avs_indexer.documents import entry_payload
from avs_indexer.ports import IndexerPorts
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.dynamo_image_map import DynamoImageMap
from avs_shared.adapters.dynamo_locks import DynamoLockTable
from avs_shared.adapters.embedding import MiniLMEmbedder
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.embedded.processes import MotoServer, RedisServer
from avs_shared.ports.vector import SearchFilter, StatusScope
from avs_shared.runtime import build_runtime
from avs_shared.schema import AnimeEntry
from avs_shared.settings import ServiceSettings
from avs_shared.topology import TOPOLOGY

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[2]
QUERIES_FILE = REPO / "tests" / "fixtures" / "search_quality" / "queries.json"
REDIS_DB = 12  # the search tests' own Redis database
EVERYTHING = SearchFilter(status=StatusScope.ANY)


@dataclass(frozen=True)
class SearchStack:
    root: Path
    settings: ServiceSettings  # the session's, with this stack's data_dir
    index: EdgeVectorIndex
    embedder: MiniLMEmbedder
    entries: list[AnimeEntry]

    @property
    def payloads(self) -> dict[str, dict[str, Any]]:
        """What the index holds for each sample anime (the indexer's own payload function)."""
        return {e.id: entry_payload(e) for e in self.entries}


@dataclass
class SearchApi:
    """The API over the sample; ``resources`` are the app's own (for service-level calls)."""

    client: httpx.AsyncClient
    resources: ApiResources
    stack: SearchStack
    redis: Redis

    async def get(self, path: str, params: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, params=params, **kwargs)

    async def ok(self, path: str, params: Any = None) -> dict[str, Any]:
        response = await self.get(path, params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def walk(
        self, path: str, params: list[tuple[str, Any]], *, by: str = "cursor"
    ) -> list[dict[str, Any]]:
        """Every page of a search, following ``next_cursor`` (or ``page`` numbers) to the end."""
        pages: list[dict[str, Any]] = []
        extra: list[tuple[str, Any]] = []
        while True:
            body = await self.ok(path, params + extra)
            pages.append(body)
            assert body["has_more"] == (body["next_cursor"] is not None)
            if not body["has_more"]:
                return pages
            assert len(pages) < 200, "pagination does not end"
            extra = [("cursor", body["next_cursor"])] if by == "cursor" else [("page", len(pages) + 1)]

    @staticmethod
    def error_of(response: httpx.Response) -> dict[str, Any]:
        """The JSON error body of a failed request (asserting it is one)."""
        assert response.headers["content-type"].startswith("application/json"), response.text
        error: dict[str, Any] = response.json()["error"]
        return error

    async def forget(self) -> None:
        """Drop cached responses and in-process caches (after changing the index)."""
        await self.redis.flushdb()
        self.resources.responses.clear()
        clear_caches(self.stack.index)


def _sample_entries() -> list[AnimeEntry]:
    data = json.loads(Path(sample_path()).read_text(encoding="utf-8"))["data"]
    return [AnimeEntry.from_json_dict(d) for d in data]


async def _bootstrap_sample(
    settings: ServiceSettings,
    moto: MotoServer,
    aws: AwsClients,
    index: EdgeVectorIndex,
    embedder: MiniLMEmbedder,
) -> None:
    moto.reset()
    await Provisioner(aws, TOPOLOGY, infra_dir=REPO / "infra").provision()
    publisher, idempotency, claim_check = await build_runtime(aws, settings)
    objects = S3ObjectStore(aws)
    cache = RedisCache(settings.redis_url)
    ports = IndexerPorts(
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
    try:
        report = await bootstrap(ports, sample_path(), executor="local")
    finally:
        await cache.close()
    assert report.entries == 64, report


@pytest.fixture(scope="session")
def search_embedder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniLMEmbedder]:
    model = MiniLMEmbedder(tmp_path_factory.mktemp("search-model"))
    assert model.warm_up() == "onnx-int8", "the ONNX export failed; see the fallback warning"
    yield model
    model.close()


@pytest.fixture(scope="session")
async def search_stack(
    tmp_path_factory: pytest.TempPathFactory,
    settings: ServiceSettings,
    moto_server: MotoServer,
    aws: AwsClients,
    search_embedder: MiniLMEmbedder,
) -> AsyncIterator[SearchStack]:
    root = tmp_path_factory.mktemp("search-data")
    index = EdgeVectorIndex(root / "qdrant-edge" / "anime")
    await index.ensure_collection(search_embedder.model_name, search_embedder.dimension)
    local = settings.model_copy(update={"data_dir": root})
    await _bootstrap_sample(local, moto_server, aws, index, search_embedder)
    yield SearchStack(root, local, index, search_embedder, _sample_entries())
    await index.close()


@pytest.fixture(scope="module")
async def search_api(
    search_stack: SearchStack, moto_server: MotoServer, aws: AwsClients, redis_server: RedisServer
) -> AsyncIterator[SearchApi]:
    """The API over the sample, restored to the sample's state for this module."""
    index = search_stack.index
    ids = [e.id for e in search_stack.entries]
    if await index.count(EVERYTHING) != len(ids) or len(await index.get(ids)) != len(ids):
        await index.delete([h.id for h in (await index.scroll(filter=EVERYTHING, limit=10_000)).hits])
        await _bootstrap_sample(search_stack.settings, moto_server, aws, index, search_stack.embedder)
    await index.set_payload(ids, {"system_status": "ACTIVE"})

    redis = Redis(host=redis_server.host, port=redis_server.port, db=REDIS_DB)
    settings = ApiSettings(
        service_name="avs-api-search-test",
        data_dir=search_stack.root,
        redis_url=f"redis://{redis_server.host}:{redis_server.port}/{REDIS_DB}",
        log_format="console",
        rate_limit_enabled=False,  # the tests walk many pages in a few seconds
    )
    app = create_app(settings, index=index, embedder=search_stack.embedder)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client,
    ):
        api = SearchApi(client, app.state.resources, search_stack, redis)
        await api.forget()
        yield api
    await redis.aclose()


@pytest.fixture(scope="session")
def labelled_queries() -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = json.loads(QUERIES_FILE.read_text(encoding="utf-8"))
    return queries
