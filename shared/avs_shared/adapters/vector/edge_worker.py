"""The worker process of :class:`~avs_shared.adapters.vector.edge_process.EdgeProcessIndex`.

    python -m avs_shared.adapters.vector.edge_worker

Started by the adapter, never by hand: it reads call frames on stdin and writes reply
frames on stdout (the protocol is in :mod:`.edge_process`). The first frame is
``__init__`` with the arguments of :class:`EdgeVectorIndex`; every later one names a
method of the port. Anything printed to stdout by a library would corrupt the frames,
so file descriptor 1 is pointed at stderr and the frames go to a private copy of it.

It exits at end of file on stdin, after closing the engine (flush, then the ``LOCK``).
SIGINT is ignored (the parent decides when to stop); SIGTERM closes the engine and
exits, like end of file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from .edge import EdgeVectorIndex
from .edge_process import HEADER, MAX_FRAME, METHODS, PICKLE_PROTOCOL, RemoteError


class _Worker:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._index: EdgeVectorIndex | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def dispatch(self, rid: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if method == "__init__" and self._index is None:  # once: later it is no port method
            try:
                options = {k: v for k, v in kwargs.items() if v is not None}
                self._index = EdgeVectorIndex(*args, reads_inline=True, **options)
            except Exception as exc:
                self._reply(rid, False, exc)
            else:
                self._reply(rid, True, None)
            return
        task = asyncio.create_task(self._call(rid, method, args, kwargs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, rid: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            if method not in METHODS:
                raise RemoteError(f"the vector index worker has no method {method!r}")
            if self._index is None:
                raise RemoteError("the vector index worker was not initialised")
            result = await getattr(self._index, method)(*args, **kwargs)
        except Exception as exc:
            self._reply(rid, False, exc)
        else:
            self._reply(rid, True, result)
        await self._writer.drain()

    def _reply(self, rid: int, ok: bool, value: Any) -> None:
        try:
            body = pickle.dumps((rid, ok, value), protocol=PICKLE_PROTOCOL)
            if not ok:
                pickle.loads(body)  # an exception the parent could not rebuild fails here, not there
        except Exception as exc:
            what = f"{type(value).__name__}: {value}" if not ok else f"an unpicklable result ({exc})"
            body = pickle.dumps((rid, False, RemoteError(what)), protocol=PICKLE_PROTOCOL)
        self._writer.write(HEADER.pack(len(body)) + body)

    async def finish(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._index is not None:
            await self._index.close()


async def serve(in_fd: int, out_fd: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(in_fd, "rb", 0))
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb", 0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    worker = _Worker(writer)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def frames() -> None:
        while True:
            try:
                (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
                if size > MAX_FRAME:
                    raise ValueError(f"a frame of {size} bytes is over the limit")
                rid, method, args, kwargs = pickle.loads(await reader.readexactly(size))
            except asyncio.IncompleteReadError:
                return  # the parent closed the pipe
            worker.dispatch(rid, method, args, kwargs)

    reading = asyncio.create_task(frames())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reading.cancel()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await worker.finish()
        with contextlib.suppress(Exception):
            await writer.drain()
        transport.close()
    if reading.done() and not reading.cancelled() and reading.exception() is not None:
        raise reading.exception()  # type: ignore[misc]


def _run(main: Coroutine[Any, Any, None]) -> None:
    """``main`` on uvloop when it is installed (the API's uvicorn brings it), else asyncio's loop.

    The worker's own Python (frames, tasks, pipe writes) is a third of its CPU per search;
    uvloop's C event loop and pipe transports cost less of it.
    """
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    in_fd, out_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # stray prints go to stderr, not into the frames
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    try:
        _run(serve(in_fd, out_fd))
    except Exception as exc:
        print(f"vector index worker: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
