"""What only the server adapter has: collection metadata, a network, HTTP errors."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from qdrant_client import AsyncQdrantClient
from qdrant_client.http.exceptions import UnexpectedResponse
from vector_dataset import DIM, MODEL, build_points

from avs_shared.adapters.vector.qdrant_server import QdrantServerVectorIndex
from avs_shared.adapters.vector.server_codec import translate
from avs_shared.errors import ConfigurationError, Conflict, NotFound, Permanent, Retryable
from avs_shared.ports.vector import SearchFilter, SparseQuery, StatusScope

ANY = SearchFilter(status=StatusScope.ANY)


async def test_model_is_recorded_as_collection_metadata() -> None:
    client = AsyncQdrantClient(location=":memory:")
    index = QdrantServerVectorIndex(client)
    await index.ensure_collection(MODEL, DIM)
    info = await client.get_collection("anime")
    assert info.config.metadata == {
        "embedding_model": MODEL,
        "dimension": DIM,
        "sparse_encoder": "avs-bm25-v1;k1=1.2;b=0.75;avg_len=60",
    }
    assert set(info.config.params.vectors) == {"text", "tags"}  # type: ignore[arg-type]
    assert info.config.params.sparse_vectors["bm25"].modifier == "idf"  # type: ignore[index]
    await index.close()
    await client.close()


async def test_a_collection_not_built_by_us_is_a_conflict() -> None:
    client = AsyncQdrantClient(location=":memory:")
    await client.create_collection("anime", vectors_config={})
    index = QdrantServerVectorIndex(client, owns_client=True)
    with pytest.raises(Conflict, match="records no embedding model"):
        await index.ensure_collection(MODEL, DIM)
    await index.ensure_collection(MODEL, DIM, recreate=True)
    assert (await index.health()).ok
    await index.close()


async def test_local_mode_on_disk_keeps_points_and_metadata(tmp_path: Path) -> None:
    points = build_points()
    index = QdrantServerVectorIndex(AsyncQdrantClient(path=str(tmp_path / "qdrant")), owns_client=True)
    await index.ensure_collection(MODEL, DIM)
    await index.upsert(points)
    await index.close()

    reopened = QdrantServerVectorIndex(AsyncQdrantClient(path=str(tmp_path / "qdrant")), owns_client=True)
    with pytest.raises(Conflict):
        await reopened.ensure_collection("other-model", DIM)
    await reopened.ensure_collection(MODEL, DIM)
    assert await reopened.count(ANY) == len(points)
    assert (await reopened.search(SparseQuery(text="進撃の巨人"), limit=1))[0].payload["title"] == (  # type: ignore[index]
        "Shingeki no Kyojin"
    )
    await reopened.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_server_is_retryable_and_unhealthy() -> None:
    index = QdrantServerVectorIndex.connect(f"http://127.0.0.1:{_free_port()}", timeout_s=2)
    with pytest.raises(Retryable):
        await index.ensure_collection(MODEL, DIM)
    health = await index.health()
    assert not health.ok and health.backend == "qdrant-server"
    await index.close()


@pytest.fixture
async def overloaded_server() -> AsyncIterator[str]:
    """A loopback HTTP server answering every request with 503 and Retry-After: 7."""

    async def overloaded(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": {"error": "overloaded"}}, status=503, headers={"Retry-After": "7"}
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", overloaded)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_overloaded_server_is_retryable_after_its_retry_after(overloaded_server: str) -> None:
    index = QdrantServerVectorIndex.connect(overloaded_server, timeout_s=5)
    with pytest.raises(Retryable) as caught:
        await index.ensure_collection(MODEL, DIM)
    assert caught.value.retry_after_s == 7.0
    assert isinstance(caught.value.__cause__, UnexpectedResponse)
    await index.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, NotFound), (409, Conflict), (401, ConfigurationError), (400, Permanent), (502, Retryable)],
)
def test_http_statuses_map_onto_the_error_family(status: int, error: type[Exception]) -> None:
    exc = UnexpectedResponse(status, "reason", b"{}", httpx.Headers())
    assert isinstance(translate(exc, "query"), error)
