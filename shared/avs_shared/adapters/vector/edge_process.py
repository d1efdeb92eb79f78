"""``EdgeProcessIndex``: the Qdrant Edge shard in a worker process of its own.

qdrant-edge-py holds the GIL for the whole of every call into the engine (measured:
hybrid queries from 1, 2 or 8 threads give the same rate, and a pure-Python thread
alongside runs at half speed). In the process that serves HTTP, every search therefore
stops all of that process's Python. This adapter runs :class:`EdgeVectorIndex` in a
child process (:mod:`avs_shared.adapters.vector.edge_worker`) and forwards each call of
the :class:`~avs_shared.ports.vector.VectorIndex` port to it, so the engine and the
caller's Python run on two cores.

Transport: the child's stdin and stdout, frames of a 4-byte big-endian length and a
pickle (protocol 5). Calls are multiplexed by a request id; the worker runs them
concurrently, as the in-process adapter would (writes serialised, reads in parallel).
Only the parent holds the pipes, so nothing else can talk to the worker, and the
worker only calls the port's methods (:data:`METHODS`).

Lifecycle: the worker starts on the first call (nothing happens at construction), owns
the shard's ``LOCK`` (one owner process, as before), and exits when the parent closes
the index or when its stdin reaches end of file (the parent died: the engine is flushed
and closed either way). It runs in a session of its own, so a Ctrl-C in a terminal
reaches the parent only, which then closes it in order. If the worker dies, the calls
in flight fail with :class:`~avs_shared.errors.Retryable` (the API answers 503 with
``Retry-After``), and the next call starts a new worker, which opens the collection
again with the arguments of the last ``ensure_collection``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import dataclasses
import itertools
import os
import pickle
import struct
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from avs_shared.errors import AvsError, ConfigurationError, Retryable
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
HEADER = struct.Struct(">I")
#: The largest frame either side accepts (an upsert batch of 1,000 anime is ~5 MB).
MAX_FRAME = 1 << 30
PICKLE_PROTOCOL = 5
_STOP_TIMEOUT_S = 60.0


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


class WorkerGone(Retryable):
    """The index worker process exited; a later call starts a new one."""


class RemoteError(AvsError):
    """An error raised in the worker that could not be sent back as itself."""


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
        self._dir = Path(path)
        self._options: dict[str, Any] = {"spec": spec, "encoder": encoder, "search_threads": search_threads}
        self._python = python
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._starting: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opened: tuple[str, int] | None = None
        self._closing = False

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

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
            proc = self._proc
            if proc is None or proc.returncode is not None:
                return
            with contextlib.suppress(WorkerGone):
                await self._call("close")
            await self._stop(proc)
        finally:
            self._opened = None
            self._closing = False

    # ------------------------------------------------------------------ plumbing

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        proc = await self._worker()
        return await self._send(proc, method, args, kwargs)

    async def _send(
        self, proc: asyncio.subprocess.Process, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        rid = next(self._ids)
        body = pickle.dumps((rid, method, args, kwargs), protocol=PICKLE_PROTOCOL)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        stdin = proc.stdin
        assert stdin is not None
        try:
            stdin.write(HEADER.pack(len(body)) + body)  # one write: one system call, mostly
            await stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            self._pending.pop(rid, None)
            raise self._gone(proc) from exc
        return await future

    async def _worker(self) -> asyncio.subprocess.Process:
        self._check_loop()
        proc = self._proc
        if proc is not None and self._serving(proc):
            return proc
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            proc = self._proc
            if proc is not None and self._serving(proc):
                return proc
            if proc is not None:  # a worker that died: reap it before its successor takes the lock
                await self._stop(proc)
            proc = await asyncio.create_subprocess_exec(
                self._python,
                "-m",
                "avs_shared.adapters.vector.edge_worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
            self._proc = proc
            self._reader = asyncio.create_task(self._read(proc), name=f"edge-worker-{proc.pid}-reader")
            try:
                await self._send(proc, "__init__", (str(self._dir),), self._options)
                if self._opened is not None and not self._closing:
                    # A successor: open the collection as the previous worker had it open.
                    model_name, dimension = self._opened
                    await self._send(proc, "ensure_collection", (model_name, dimension), {})
            except BaseException:
                # A worker that could not take over (another process took the LOCK meanwhile,
                # say) is stopped, not kept as if it served: the next call tries afresh.
                await self._stop(proc)
                raise
            return proc

    def _check_loop(self) -> None:
        """The worker's pipes belong to the event loop that started it: refuse another."""
        loop = asyncio.get_running_loop()
        if self._loop is None or (self._proc is None and not self._pending):
            if self._loop is not loop:
                self._loop, self._starting = loop, None  # an asyncio.Lock is bound to its loop
        elif self._loop is not loop:
            raise ConfigurationError(
                "this EdgeProcessIndex serves the event loop that started its worker; create one "
                "index per event loop (per asyncio.run), or close it before the loop ends"
            )

    def _serving(self, proc: asyncio.subprocess.Process) -> bool:
        return proc.returncode is None and self._reader is not None and not self._reader.done()

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        stdout = proc.stdout
        assert stdout is not None
        try:
            while True:
                header = await stdout.readexactly(HEADER.size)
                (size,) = HEADER.unpack(header)
                rid, ok, value = pickle.loads(await stdout.readexactly(size))
                future = self._pending.pop(rid, None)
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=5.0)
            error = self._gone(proc)
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            self._pending.clear()

    def _gone(self, proc: asyncio.subprocess.Process) -> WorkerGone:
        code = proc.returncode
        how = "is not answering" if code is None else f"exited with code {code}"
        return WorkerGone(
            f"the vector index worker (pid {proc.pid}) {how}; its error is on this process's stderr. "
            "The next request starts a new worker",
            retry_after_s=1.0,
        )

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        stdin = proc.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout=_STOP_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        reader = self._reader
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if self._proc is proc:
            self._proc, self._reader = None, None
