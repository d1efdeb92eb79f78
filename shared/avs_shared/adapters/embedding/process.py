"""``ProcessEmbedder``: :class:`MiniLMEmbedder` in a worker process of its own.

In the process that serves HTTP, a query embedding runs on a thread that must take the
GIL back from the event loop twice per query (picking up the job, and after
onnxruntime's run). While the loop runs Python each of those waits for the loop's
switch interval, so the embeddings, one at a time, stall behind the loop while a core
sits idle. In a worker process the model has a GIL of its own: the API's loop only
writes the text to a pipe and reads 1.5 kB back. Measured with ``bench/api.py``
(40,000 anime, hybrid search, concurrency 16, side by side in two runs): 425.7 and 453.9
requests/s against 368.2 and 382.9 with the embedder on a thread of the API's process.

The worker (:mod:`avs_shared.adapters.embedding.embedding_worker`) runs each call inline
on its loop, one at a time (the model runs one batch at a time anyway), and the calls
queue in the pipe. Transport and lifecycle are :mod:`avs_shared.adapters.child_worker`'s:
the worker starts on the first call, exits when the parent closes the embedder or dies,
and a worker that died fails the calls in flight with
:class:`~avs_shared.adapters.child_worker.WorkerGone` (retryable; the API answers 503
with ``Retry-After``) and is replaced on the next call.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from avs_shared.adapters.child_worker import ChildWorker
from avs_shared.adapters.embedding._common import check_texts
from avs_shared.adapters.embedding.minilm import DIMENSION, MODEL_NAME, Backend, check_options

#: What the worker may be asked.
METHODS = frozenset({"embed", "warm_up"})


class ProcessEmbedder:
    """The :class:`~avs_shared.ports.embedding.Embedder` port on all-MiniLM-L6-v2 in a worker
    process (see the module docstring).

    The parameters are :class:`MiniLMEmbedder`'s, passed to the worker's embedder;
    ``python`` is the interpreter that runs the worker. Construction does no I/O.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        backend: Backend = "onnx-int8",
        batch_size: int = 64,
        threads: int | None = None,
        model_dir: Path | str | None = None,
        python: str = sys.executable,
    ) -> None:
        check_options(backend, batch_size, threads)  # here, where they were written, not in the worker
        self.worker = ChildWorker(
            "avs_shared.adapters.embedding.embedding_worker",
            (str(data_dir),),
            {
                "backend": backend,
                "batch_size": batch_size,
                "threads": threads,
                "model_dir": None if model_dir is None else str(model_dir),
            },
            role="query embedding worker",
            owner="ProcessEmbedder",
            python=python,
        )

    @property
    def model_name(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self.worker.pid

    async def warm_up(self) -> Backend:
        """Start the worker and load the model now; the backend in use (torch after a fallback)."""
        backend: Backend = await self.worker.call("warm_up")
        return backend

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        check_texts(texts)
        if len(texts) == 0:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        vectors: NDArray[np.float32] = await self.worker.call("embed", list(texts))
        return vectors

    def embed_sync(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """:meth:`embed` from a thread, through the event loop that talks to the worker.

        That loop must be running in another thread (the worker's pipes belong to it).
        """
        loop = self.worker.loop
        if loop is None or not loop.is_running():
            raise RuntimeError(
                "ProcessEmbedder.embed_sync needs the event loop that uses this embedder running "
                "in another thread; await embed() on that loop first, or call embed() instead"
            )
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            raise RuntimeError("embed_sync blocks: never call it on the event loop; await embed() instead")
        return asyncio.run_coroutine_threadsafe(self.embed(texts), loop).result()

    async def aclose(self) -> None:
        """Stop the worker (it exits once the calls it has are answered)."""
        await self.worker.stop()
