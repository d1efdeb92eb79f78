"""Fixtures of the indexer's acceptance tests: real stores, the real model, a fresh shard per test.

* The moto server and redis-server are the session's (``tests/conftest.py``); every
  test that takes ``ports`` starts from a freshly provisioned moto.
* all-MiniLM-L6-v2 (ONNX int8) is exported once per session into ``model_data_dir``
  and shared by every test; a subprocess gets a copy of that export in its own
  data directory.
* Each test gets its own Qdrant Edge shard under ``tmp_path``, so nothing carries
  over between tests; ``open_ports`` builds further port sets (a "fresh stack" with a
  new shard) that are closed at the end of the test.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from avs_indexer.bootstrap import sample_path
from avs_indexer.ports import IndexerPorts
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.dynamo_image_map import DynamoImageMap
from avs_shared.adapters.dynamo_locks import DynamoLockTable
from avs_shared.adapters.embedding import MiniLMEmbedder
from avs_shared.adapters.embedding.minilm import CACHE_SUBDIR
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.runtime import build_runtime
from avs_shared.schema import AnimeEntry
from avs_shared.settings import ServiceSettings
from avs_shared.topology import BUCKET

os.environ.setdefault("HF_HUB_OFFLINE", "1")

OpenPorts = Callable[[Path], Awaitable[IndexerPorts]]
ScanTable = Callable[[str], Awaitable[list[dict[str, Any]]]]
ListKeys = Callable[[str], Awaitable[list[str]]]


@pytest.fixture(scope="session")
def embedder(model_data_dir: Path) -> Iterator[MiniLMEmbedder]:
    """The real model, loaded once and shared by every test."""
    model = MiniLMEmbedder(model_data_dir)
    model.warm_up()
    yield model
    model.close()


@pytest.fixture
def seed_model(model_data_dir: Path) -> Callable[[Path], None]:
    """Copy the session's model export into another data_dir (for a subprocess)."""

    def copy(data_dir: Path) -> None:
        target = data_dir / CACHE_SUBDIR
        if not target.exists():
            shutil.copytree(model_data_dir / CACHE_SUBDIR, target)

    return copy


@pytest.fixture
async def open_ports(
    aws: AwsClients, settings: ServiceSettings, embedder: MiniLMEmbedder
) -> AsyncIterator[OpenPorts]:
    """Build :class:`IndexerPorts` over the session's AWS and Redis with an edge shard in ``data_dir``.

    Built by hand from its fields (``open_indexer_ports`` would make a new embedder and
    export the model into every test's directory); every port set is closed at teardown.
    """
    opened: list[tuple[EdgeVectorIndex, RedisCache]] = []

    async def make(data_dir: Path) -> IndexerPorts:
        local = settings.model_copy(update={"data_dir": data_dir})
        publisher, idempotency, claim_check = await build_runtime(aws, local)
        objects = S3ObjectStore(aws)
        index = EdgeVectorIndex(data_dir / "qdrant-edge" / "anime")
        cache = RedisCache(local.redis_url)
        opened.append((index, cache))
        return IndexerPorts(
            settings=local,
            aws=aws,
            objects=objects,
            entries=DynamoEntryStore(aws, objects=objects),
            index=index,
            embedder=embedder,
            cache=cache,
            locks=DynamoLockTable(aws),
            images=DynamoImageMap(aws, cdn_domain=local.cdn_domain),
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
        )

    yield make
    for index, cache in reversed(opened):
        await index.close()
        await cache.close()


@pytest.fixture
async def ports(provisioned: Provisioner, open_ports: OpenPorts, tmp_path: Path) -> IndexerPorts:
    """The indexer's ports on a freshly provisioned moto and a new edge shard."""
    return await open_ports(tmp_path / "data")


# ----------------------------------------------------------------------------- data


@pytest.fixture(scope="session")
def sample_file() -> Path:
    return Path(sample_path())


@pytest.fixture(scope="session")
def sample_entries(sample_file: Path) -> list[AnimeEntry]:
    data = json.loads(sample_file.read_text(encoding="utf-8"))["data"]
    return [AnimeEntry.from_json_dict(d) for d in data]


@pytest.fixture(scope="session")
def sample_by_title(sample_entries: list[AnimeEntry]) -> dict[str, AnimeEntry]:
    return {e.title: e for e in sample_entries}


# ----------------------------------------------------------------------------- inspecting the stack


@pytest.fixture
def scan_table(aws: AwsClients) -> ScanTable:
    """Every raw item of a DynamoDB table (all pages, consistent)."""

    async def run(table: str) -> list[dict[str, Any]]:
        ddb = await aws.client("dynamodb")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            resp = await ddb.scan(**kwargs)
            items.extend(resp.get("Items", []))
            if not resp.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    return run


@pytest.fixture
def list_keys(aws: AwsClients) -> ListKeys:
    """Every key of the data bucket under a prefix."""

    async def run(prefix: str) -> list[str]:
        s3 = await aws.client("s3")
        keys: list[str] = []
        async for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    return run
