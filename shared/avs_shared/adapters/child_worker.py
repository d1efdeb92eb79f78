"""An object in a worker process of its own, called over its stdin and stdout.

Two adapters use it to take work the GIL would serialise out of the process that serves
HTTP: :class:`~avs_shared.adapters.vector.edge_process.EdgeProcessIndex` (the Qdrant Edge
engine holds the GIL for each call) and
:class:`~avs_shared.adapters.embedding.process.ProcessEmbedder` (the query embedder's
thread must take the GIL back from a busy event loop twice per query).

Parent side, :class:`ChildWorker`: starts ``python -m <module>`` on the first call,
sends ``__init__`` with the target's constructor arguments, then one frame per call.
Frames are a 4-byte big-endian length and a pickle (protocol 5); calls are multiplexed
by a request id and answered in any order. Only the parent holds the pipes, so nothing
else can talk to the worker. If the worker dies, the calls in flight fail with
:class:`WorkerGone` (a :class:`~avs_shared.errors.Retryable`) and the next call starts
a successor. The pipes belong to the event loop that started the worker; another loop
gets a :class:`~avs_shared.errors.ConfigurationError`.

Worker side, :func:`worker_main`: builds the target from the ``__init__`` frame, calls
only the names in its ``methods`` (awaiting those that are coroutines; a plain function
runs inline, on the worker's loop), and exits at end of file on stdin (the parent closed
it or died) or on SIGTERM, after ``close`` on the target. SIGINT is ignored, and the
worker runs in a session of its own, so a Ctrl-C in a terminal reaches the parent only.
Anything a library prints to stdout would corrupt the frames, so file descriptor 1 is
pointed at stderr and the frames go to a private copy of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import os
import pickle
import signal
import struct
import sys
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any

from avs_shared.errors import AvsError, ConfigurationError, Retryable

HEADER = struct.Struct(">I")
#: The largest frame either side accepts (an upsert batch of 1,000 anime is ~5 MB).
MAX_FRAME = 1 << 30
PICKLE_PROTOCOL = 5
_STOP_TIMEOUT_S = 60.0

#: ``send(method, args, kwargs)`` to a worker that is starting (see ``ChildWorker(reopen=)``).
Send = Callable[[str, tuple[Any, ...], dict[str, Any]], Awaitable[Any]]


class WorkerGone(Retryable):
    """The worker process exited; a later call starts a new one."""


class RemoteError(AvsError):
    """An error raised in the worker that could not be sent back as itself."""


class ChildWorker:
    """The parent's end of one worker process (see the module docstring).

    Parameters
    ----------
    module:
        Run as ``python -m module``; its ``main`` calls :func:`worker_main`.
    init_args, init_kwargs:
        The target's constructor arguments, sent in the ``__init__`` frame.
    role, owner:
        What the worker is and the class that owns it, for error messages
        ("vector index worker", "EdgeProcessIndex").
    reopen:
        Awaited with a ``send`` after ``__init__`` each time a worker starts, before any
        call: a successor restores the state its predecessor had (an open collection).
    python:
        The interpreter that runs the worker.
    """

    def __init__(
        self,
        module: str,
        init_args: tuple[Any, ...],
        init_kwargs: dict[str, Any],
        *,
        role: str,
        owner: str,
        reopen: Callable[[Send], Awaitable[None]] | None = None,
        python: str = sys.executable,
    ) -> None:
        self._module = module
        self._init = (init_args, init_kwargs)
        self.role = role
        self._owner = owner
        self._reopen = reopen
        self._python = python
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._starting: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        proc = self.process
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop whose pipes talk to the worker (None before the first call)."""
        return self._loop

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``method(*args, **kwargs)`` on the target, starting the worker if it does not run."""
        proc = await self._worker()
        return await self._send(proc, method, args, kwargs)

    async def stop(self, farewell: str | None = None) -> None:
        """Call ``farewell`` (if given and the worker runs), close its stdin, wait for it to exit."""
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        if farewell is not None:
            with contextlib.suppress(WorkerGone):
                await self._send(proc, farewell, (), {})
        await self._stop(proc)

    # ------------------------------------------------------------------ plumbing

    async def _send(
        self, proc: asyncio.subprocess.Process, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        rid = next(self._ids)
        body = pickle.dumps((rid, method, args, kwargs), protocol=PICKLE_PROTOCOL)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[rid] = future
        stdin = proc.stdin
        assert stdin is not None
        try:
            stdin.write(HEADER.pack(len(body)) + body)  # one write: one system call, mostly
            await stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            self.pending.pop(rid, None)
            raise self._gone(proc) from exc
        return await future

    async def _worker(self) -> asyncio.subprocess.Process:
        self._check_loop()
        proc = self.process
        if proc is not None and self._serving(proc):
            return proc
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            proc = self.process
            if proc is not None and self._serving(proc):
                return proc
            if proc is not None:  # a worker that died: reap it before its successor starts
                await self._stop(proc)
            proc = await asyncio.create_subprocess_exec(
                self._python,
                "-m",
                self._module,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
            self.process = proc
            self._reader = asyncio.create_task(self._read(proc), name=f"{self._module}-{proc.pid}-reader")
            try:
                await self._send(proc, "__init__", *self._init)
                if self._reopen is not None:
                    await self._reopen(lambda method, args, kwargs: self._send(proc, method, args, kwargs))
            except BaseException:
                # A worker that could not take over (another process took a lock meanwhile,
                # say) is stopped, not kept as if it served: the next call tries afresh.
                await self._stop(proc)
                raise
            return proc

    def _check_loop(self) -> None:
        """The worker's pipes belong to the event loop that started it: refuse another."""
        loop = asyncio.get_running_loop()
        if self._loop is None or (self.process is None and not self.pending):
            if self._loop is not loop:
                self._loop, self._starting = loop, None  # an asyncio.Lock is bound to its loop
        elif self._loop is not loop:
            raise ConfigurationError(
                f"this {self._owner} serves the event loop that started its {self.role}; create "
                f"one {self._owner} per event loop (per asyncio.run), or close it before the loop ends"
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
                future = self.pending.pop(rid, None)
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
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(error)
            self.pending.clear()

    def _gone(self, proc: asyncio.subprocess.Process) -> WorkerGone:
        code = proc.returncode
        how = "is not answering" if code is None else f"exited with code {code}"
        return WorkerGone(
            f"the {self.role} (pid {proc.pid}) {how}; its error is on this process's stderr. "
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
        if self.process is proc:
            self.process, self._reader = None, None


# ----------------------------------------------------------------------------- worker side


class _Dispatcher:
    def __init__(
        self, role: str, writer: asyncio.StreamWriter, factory: Callable[..., Any], methods: Collection[str]
    ) -> None:
        self._role = role
        self._writer = writer
        self._factory = factory
        self._methods = methods
        self._target: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    def dispatch(self, rid: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if method == "__init__" and self._target is None:  # once: later it is no method
            try:
                self._target = self._factory(*args, **kwargs)
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
            if method not in self._methods:
                raise RemoteError(f"the {self._role} has no method {method!r}")
            if self._target is None:
                raise RemoteError(f"the {self._role} was not initialised")
            result = getattr(self._target, method)(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
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
        close = getattr(self._target, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result


async def serve(
    role: str, in_fd: int, out_fd: int, factory: Callable[..., Any], methods: Collection[str]
) -> None:
    """Answer call frames read from ``in_fd`` on ``out_fd`` until end of file or SIGTERM."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(in_fd, "rb", 0))
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb", 0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    dispatcher = _Dispatcher(role, writer, factory, methods)
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
            dispatcher.dispatch(rid, method, args, kwargs)

    reading = asyncio.create_task(frames())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reading.cancel()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await dispatcher.finish()
        with contextlib.suppress(Exception):
            await writer.drain()
        transport.close()
    if reading.done() and not reading.cancelled() and reading.exception() is not None:
        raise reading.exception()  # type: ignore[misc]


def _run(main: Coroutine[Any, Any, None]) -> None:
    """``main`` on uvloop when it is installed (the API's uvicorn brings it), else asyncio's loop.

    A worker's own Python (frames, tasks, pipe writes) is a third of the index worker's
    CPU per search; uvloop's C event loop and pipe transports cost less of it.
    """
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def worker_main(role: str, factory: Callable[..., Any], methods: Collection[str]) -> None:
    """The worker process: serve ``factory(...)``'s ``methods`` on stdin and stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    in_fd, out_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # stray prints go to stderr, not into the frames
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    try:
        _run(serve(role, in_fd, out_fd, factory, methods))
    except Exception as exc:
        print(f"{role}: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
