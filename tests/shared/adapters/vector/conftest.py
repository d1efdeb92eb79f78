"""The ``VectorIndex`` adapters as fixtures: the congruence suite runs on each.

* ``edge``: a Qdrant Edge shard in a fresh temporary directory;
* ``edge-process``: the same shard owned by a worker process (``EdgeProcessIndex``);
* ``server``: ``QdrantServerVectorIndex`` over qdrant-client's local mode, the
  stand-in for a Qdrant server.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient
from vector_dataset import DIM, MODEL, build_points

from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.adapters.vector.edge_process import EdgeProcessIndex
from avs_shared.adapters.vector.qdrant_server import QdrantServerVectorIndex
from avs_shared.ports.vector import VectorIndex, VectorPoint

ADAPTERS = ["edge", "edge-process", "server"]


def make_index(kind: str, tmp_path: Path) -> VectorIndex:
    if kind == "edge":
        return EdgeVectorIndex(tmp_path / "qdrant-edge" / "anime")
    if kind == "edge-process":
        return EdgeProcessIndex(tmp_path / "qdrant-edge" / "anime")
    return QdrantServerVectorIndex(AsyncQdrantClient(location=":memory:"), owns_client=True)


@pytest.fixture(autouse=True)
def _quiet_local_mode() -> None:
    # Local mode warns once that payload indexes are no-ops there; that is expected.
    warnings.filterwarnings("ignore", message="Payload indexes have no effect", category=UserWarning)


@pytest.fixture(params=ADAPTERS)
async def empty_index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorIndex]:
    index = make_index(request.param, tmp_path)
    await index.ensure_collection(MODEL, DIM)
    yield index
    await index.close()


@pytest.fixture(params=ADAPTERS)
async def unopened_index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorIndex]:
    """An adapter on which ensure_collection() has not been called."""
    index = make_index(request.param, tmp_path)
    yield index
    await index.close()


@pytest.fixture(scope="session")
def points() -> list[VectorPoint]:
    return build_points()


@pytest.fixture
async def index(empty_index: VectorIndex, points: list[VectorPoint]) -> VectorIndex:
    await empty_index.upsert(points)
    return empty_index


@pytest.fixture
async def pair(tmp_path: Path, points: list[VectorPoint]) -> AsyncIterator[dict[str, VectorIndex]]:
    """Both adapters over the same data, for direct side-by-side comparison."""
    indexes: dict[str, VectorIndex] = {kind: make_index(kind, tmp_path / kind) for kind in ADAPTERS}
    for idx in indexes.values():
        await idx.ensure_collection(MODEL, DIM)
        await idx.upsert(points)
    yield indexes
    for idx in indexes.values():
        await idx.close()
