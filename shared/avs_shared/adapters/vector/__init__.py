"""Adapters of the ``VectorIndex`` port (see :mod:`avs_shared.ports.vector`).

* :mod:`.edge` - ``EdgeVectorIndex``, a Qdrant Edge shard in-process;
* :mod:`.edge_process` - ``EdgeProcessIndex``, the same shard owned by a worker process
  (:mod:`.edge_worker`) that serves the port over pipes (the embedded default);
* :mod:`.qdrant_server` - ``QdrantServerVectorIndex`` over ``AsyncQdrantClient``.

They share the BM25 encoder (:mod:`.sparse`), the collection spec and metadata
(:mod:`.model`), filter lowering (:mod:`.filters`) and the stable ordered scroll
(:mod:`.ordering`). Import the adapter module you need: this package does not
import either engine, so a process loads only the one it uses.
"""
