"""``EdgeProcessIndex``: the Qdrant Edge shard in a worker process of its own.

qdrant-edge-py holds the GIL for the whole of every call into the engine (measured:
hybrid queries from 1, 2 or 8 threads give the same rate, and a pure-Python thread
alongside runs at half speed). In the process that serves HTTP, every search therefore
stops all of that process's Python. This adapter runs :class:`EdgeVectorIndex` in a
child process (:mod:`avs_shared.adapters.vector.edge_worker`) and forwards each call of
the :class:`~avs_shared.ports.vector.VectorIndex` port to it, so the engine and the
caller's Python run on two cores.

Transport and lifecycle are :mod:`avs_shared.adapters.child_worker`'s: frames of a
pickle over the child's stdin and stdout, calls multiplexed by a request id, and only
the port's methods (:data:`METHODS`) callable. The worker runs them concurrently, as the
in-process adapter would (writes serialised, reads in parallel). It starts on the first
call (nothing happens at construction), owns the shard's ``LOCK`` (one owner process, as
before), and exits when the parent closes the index or when its stdin reaches end of
file (the parent died: the engine is flushed and closed either way). If the worker dies,
the calls in flight fail with :class:`~avs_shared.errors.Retryable` (the API answers 503
with ``Retry-After``), and the next call starts a new worker, which opens the collection
again with the arguments of the last ``ensure_collection``.
"""

from __future__ import annotations

import copyreg
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from avs_shared.adapters.child_worker import (
    HEADER,
    MAX_FRAME,
    PICKLE_PROTOCOL,
    ChildWorker,
    RemoteError,
    Send,
    WorkerGone,
)
from avs_shared.ports import vector as vector_port
from avs_shared.ports.vector import (
    FacetCount,
    Hit,
    IndexHealth,
    OrderBy,
    Page,
    Payload,
    Search,
    SearchFilter,
    SearchQuery,
    VectorPoint,
    WithPayload,
)

from .model import ANIME_COLLECTION, DEFAULT_SEARCH_THREADS, CollectionSpec
from .sparse import Bm25Encoder

#: The port's methods, the only names the worker calls.
METHODS = frozenset(
    {
        "ensure_collection",
        "upsert",
        "set_payload",
        "delete",
        "get",
        "search",
        "search_many",
        "scroll",
        "count",
        "facets",
        "optimize",
        "health",
        "close",
    }
)
__all__ = [
    "HEADER",
    "MAX_FRAME",
    "METHODS",
    "PICKLED_BY_CONSTRUCTOR",
    "PICKLE_PROTOCOL",
    "EdgeProcessIndex",
    "RemoteError",
    "WorkerGone",
]


def _pickle_by_constructor(cls: type[Any]) -> None:
    """Pickle ``cls`` (a slotted dataclass of the port) as its constructor's arguments.

    A slotted dataclass's default state walks ``fields()`` for every object, 2-4x the cost
    (16 hits: 23 against 10 us to load, 23 against 5 to dump); every search sends a few
    queries and filters and gets hits back.
    """
    fields = dataclasses.fields(cls)
    if not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__} has fields its constructor does not take")
    names = tuple(f.name for f in fields)
    copyreg.pickle(cls, lambda obj: (cls, tuple(getattr(obj, n) for n in names)))


#: The port's values that cross the pipe.
PICKLED_BY_CONSTRUCTOR: tuple[type[Any], ...] = tuple(
    cls
    for cls in vars(vector_port).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == vector_port.__name__
)
for _cls in PICKLED_BY_CONSTRUCTOR:
    _pickle_by_constructor(_cls)


class EdgeProcessIndex:
    """The :class:`~avs_shared.ports.vector.VectorIndex` port on a Qdrant Edge shard owned by a
    worker process (see the module docstring).

    Parameters
    ----------
    path:
        The collection directory, as for :class:`EdgeVectorIndex`.
    spec, encoder, search_threads:
        Passed to the worker's :class:`EdgeVectorIndex`.
    python:
        The interpreter that runs the worker (this one by default).
    """

    backend = "qdrant-edge (worker process)"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        spec: CollectionSpec = ANIME_COLLECTION,
        encoder: Bm25Encoder | None = None,
        search_threads: int | None = DEFAULT_SEARCH_THREADS,
        python: str = sys.executable,
    ) -> None:
        if search_threads is not None and search_threads < 1:
            raise ValueError("search_threads must be at least 1 (or None for the engine's default)")
        self.worker = ChildWorker(
            "avs_shared.adapters.vector.edge_worker",
            (str(Path(path)),),
            {"spec": spec, "encoder": encoder, "search_threads": search_threads},
            role="vector index worker",
            owner="EdgeProcessIndex",
            reopen=self._reopen,
            python=python,
        )
        self._opened: tuple[str, int] | None = None
        self._closing = False

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self.worker.pid

    # ------------------------------------------------------------------ the port

    async def ensure_collection(self, model_name: str, dimension: int, *, recreate: bool = False) -> None:
        await self._call("ensure_collection", model_name, dimension, recreate=recreate)
        self._opened = (model_name, dimension)

    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        await self._call("upsert", list(points))

    async def set_payload(self, point_ids: Sequence[str], payload: Payload) -> list[str]:
        result: list[str] = await self._call("set_payload", list(point_ids), dict(payload))
        return result

    async def delete(self, point_ids: Sequence[str]) -> None:
        await self._call("delete", list(point_ids))

    async def get(self, point_ids: Sequence[str], *, with_vectors: bool = False) -> list[VectorPoint]:
        result: list[VectorPoint] = await self._call("get", list(point_ids), with_vectors=with_vectors)
        return result

    async def search(
        self,
        query: SearchQuery,
        *,
        filter: SearchFilter | None = None,
        limit: int = 10,
        offset: int = 0,
        score_threshold: float | None = None,
        with_payload: WithPayload = True,
    ) -> list[Hit]:
        result: list[Hit] = await self._call(
            "search",
            query,
            filter=filter,
            limit=limit,
            offset=offset,
            score_threshold=score_threshold,
            with_payload=with_payload,
        )
        return result

    async def search_many(self, searches: Sequence[Search]) -> list[list[Hit]]:
        result: list[list[Hit]] = await self._call("search_many", list(searches))
        return result

    async def scroll(
        self,
        *,
        order_by: OrderBy | None = None,
        filter: SearchFilter | None = None,
        limit: int = 20,
        offset: int = 0,
        cursor: str | None = None,
        with_payload: WithPayload = True,
    ) -> Page:
        result: Page = await self._call(
            "scroll",
            order_by=order_by,
            filter=filter,
            limit=limit,
            offset=offset,
            cursor=cursor,
            with_payload=with_payload,
        )
        return result

    async def count(self, filter: SearchFilter | None = None) -> int:
        result: int = await self._call("count", filter)
        return result

    async def facets(
        self, field: str, *, filter: SearchFilter | None = None, limit: int = 20
    ) -> list[FacetCount]:
        result: list[FacetCount] = await self._call("facets", field, filter=filter, limit=limit)
        return result

    async def optimize(self) -> None:
        await self._call("optimize")

    async def health(self) -> IndexHealth:
        try:
            result: IndexHealth = await self._call("health")
        except WorkerGone as exc:
            return IndexHealth(False, self.backend, detail=str(exc))
        return result

    async def close(self) -> None:
        """Close the engine in the worker (flushing the shard) and wait for the worker to exit."""
        self._closing = True
        try:
            await self.worker.stop(farewell="close")
        finally:
            self._opened = None
            self._closing = False

    # ------------------------------------------------------------------ plumbing

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self.worker.call(method, *args, **kwargs)

    async def _reopen(self, send: Send) -> None:
        if self._opened is not None and not self._closing:
            # A successor: open the collection as the previous worker had it open.
            model_name, dimension = self._opened
            await send("ensure_collection", (model_name, dimension), {})
