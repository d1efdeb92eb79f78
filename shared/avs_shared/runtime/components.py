"""Factories of the heavy shared parts, chosen by settings: the vector index and the embedder.

Construction does no I/O; the index opens (and checks the model recorded with the
collection) on ``ensure_collection``.
"""

from __future__ import annotations

from avs_shared.ports.embedding import Embedder
from avs_shared.ports.vector import VectorIndex
from avs_shared.runtime.context import RunContext
from avs_shared.settings import ServiceSettings

COLLECTION = "anime"


def vector_index_from_settings(settings: ServiceSettings) -> VectorIndex:
    """A Qdrant server index when ``QDRANT_URL`` is set, else the Qdrant Edge shard
    at ``<data_dir>/qdrant-edge/anime``: in this process, or in a worker process of its
    own with ``AVS_EDGE_INDEX_PROCESS=true``."""
    if settings.qdrant_url:
        from avs_shared.adapters.vector.qdrant_server import QdrantServerVectorIndex

        return QdrantServerVectorIndex.connect(settings.qdrant_url, api_key=settings.qdrant_api_key)
    path = settings.data_dir / "qdrant-edge" / COLLECTION
    if settings.edge_index_process:
        from avs_shared.adapters.vector.edge_process import EdgeProcessIndex

        return EdgeProcessIndex(path, search_threads=settings.edge_search_threads)
    from avs_shared.adapters.vector.edge import EdgeVectorIndex

    return EdgeVectorIndex(path, search_threads=settings.edge_search_threads)


def embedder_from_settings(settings: ServiceSettings) -> Embedder:
    """all-MiniLM-L6-v2 on the configured backend (ONNX int8 by default)."""
    from avs_shared.adapters.embedding import MiniLMEmbedder

    return MiniLMEmbedder(
        settings.data_dir, backend=settings.embedding_backend, batch_size=settings.embedding_batch_size
    )


def shared_vector_index(ctx: RunContext) -> VectorIndex:
    """The process's one vector index (closed with the context's resources)."""

    def build() -> VectorIndex:
        index = vector_index_from_settings(ctx.settings)
        ctx.resources.push_async_callback(index.close)
        return index

    return ctx.component("vector-index", build)


def shared_embedder(ctx: RunContext) -> Embedder:
    """The process's one embedder."""
    return ctx.component("embedder", lambda: embedder_from_settings(ctx.settings))
