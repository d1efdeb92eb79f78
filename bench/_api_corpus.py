"""The API benchmark's catalogue: ``n`` synthetic anime as vector points, built the same way twice.

Every point carries the real payload and BM25 titles of synthetic entry ``i``
(``avs_indexer.synthetic.generate_entries(n, seed)``, ``avs_indexer.documents``).
Its two dense vectors come from the real model only for the first ``embedded``
entries: embedding all ``2 n`` texts takes hours on a shared 2-core machine. Entry
``i >= embedded`` gets the vectors of entry ``i % embedded`` plus Gaussian noise
(``NOISE_SIGMA`` per dimension, then L2-normalised: cosine ~0.9 to its base, ~0.8
between two copies of one base), so the vectors keep the real model's distribution
around ``embedded`` real anchors instead of being uniform noise.

The real vectors are cached in ``<data_dir>/bench/api/`` (``AVS_DATA_DIR``, default
``.data``), keyed by model, backend, seed and count; so is the built and optimised
Qdrant Edge collection of a whole corpus, which each run copies into its own
temporary directory. :func:`corpus_points` is deterministic, so the benchmark's server
process rebuilds exactly the same points for qdrant-client's local mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from avs_indexer.documents import entry_texts
from avs_indexer.indexing import build_point
from avs_indexer.synthetic import generate_entries
from avs_shared.adapters.embedding import MiniLMEmbedder
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.adapters.vector.sparse import Bm25Encoder
from avs_shared.ports.vector import VectorIndex, VectorPoint
from avs_shared.schema import AnimeEntry
from avs_shared.settings import ServiceSettings, load_settings

DIM = 384
NOISE_SIGMA = 0.025
BATCH = 500
#: Bump when the way points or the collection are built differently, so cached collections
#: are rebuilt (2: payload indexes without HNSW links, see ``edge_codec.index_schema``).
CORPUS_VERSION = 3  # 3: the name_keys payload field


@dataclass(frozen=True)
class CorpusSpec:
    """``n`` anime of synthetic ``seed``; the first ``embedded`` embedded by the real model."""

    n: int
    embedded: int
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.embedded <= self.n:
            raise ValueError(f"embedded must be within 1..n, got {self.embedded} of {self.n}")

    def describe(self) -> str:
        return (
            f"{self.n:,} synthetic anime (seed {self.seed}); dense vectors of the first {self.embedded:,} "
            f"embedded by the real model, the other {self.n - self.embedded:,} reuse entry i % "
            f"{self.embedded:,}'s vectors plus N(0, {NOISE_SIGMA}^2) noise per dimension, renormalised; "
            "payload and BM25 titles are every entry's own"
        )


def data_root() -> Path:
    """``<data_dir>/bench/api``: the benchmark's caches (the shared ONNX export is ``<data_dir>/models``)."""
    return load_settings(ServiceSettings).data_dir / "bench" / "api"


def model_root() -> Path:
    return load_settings(ServiceSettings).data_dir


def entries(spec: CorpusSpec, start: int = 0, stop: int | None = None) -> Iterator[AnimeEntry]:
    """Entries ``start..stop`` of the corpus (generation streams; a prefix costs only itself)."""
    stop = spec.n if stop is None else stop
    for i, raw in enumerate(generate_entries(stop, seed=spec.seed)):
        if i >= start:
            yield AnimeEntry.from_json_dict(raw)


def real_vectors(spec: CorpusSpec, embedder: MiniLMEmbedder, *, progress: bool = True) -> np.ndarray:
    """``(embedded, 2, DIM)``: the text and tags vectors of the first ``embedded`` entries (cached)."""
    backend = embedder.active_backend or embedder.backend
    key = f"vectors-{embedder.model_name.replace('/', '_')}-{backend}-seed{spec.seed}-{spec.embedded}.npy"
    path = data_root() / key
    if path.exists():
        cached = np.load(path)
        if cached.shape == (spec.embedded, 2, DIM):
            return cached
    started = time.perf_counter()
    out = np.empty((spec.embedded, 2, DIM), dtype=np.float32)
    batch = 32
    done = 0
    for chunk_start in range(0, spec.embedded, batch):
        chunk = list(entries(spec, chunk_start, min(spec.embedded, chunk_start + batch)))
        texts = [entry_texts(e) for e in chunk]
        vectors = embedder.embed_sync([t.text for t in texts] + [t.tags for t in texts])
        k = len(chunk)
        out[chunk_start : chunk_start + k, 0] = vectors[:k]
        out[chunk_start : chunk_start + k, 1] = vectors[k:]
        done += k
        if progress:
            rate = done / (time.perf_counter() - started)
            print(
                f"\r  embedding the real-vector subset: {done:,}/{spec.embedded:,} entries ({rate:.1f}/s)",
                end="",
            )
    if progress:
        print()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as fh:
        np.save(fh, out)
    os.replace(fh.name, path)
    return out


def _perturbed(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = base + rng.normal(0.0, NOISE_SIGMA, size=base.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=-1, keepdims=True)


def corpus_points(spec: CorpusSpec, real: np.ndarray) -> Iterator[list[VectorPoint]]:
    """Batches of the corpus's points; the same ``spec`` and ``real`` give the same points."""
    batch: list[AnimeEntry] = []
    start = 0
    for entry in entries(spec):
        batch.append(entry)
        if len(batch) == BATCH:
            yield _points(spec, real, start, batch)
            start += len(batch)
            batch = []
    if batch:
        yield _points(spec, real, start, batch)


def _points(spec: CorpusSpec, real: np.ndarray, start: int, batch: list[AnimeEntry]) -> list[VectorPoint]:
    rng = np.random.default_rng([spec.seed, start])
    rows = np.arange(start, start + len(batch))
    vectors = real[rows % spec.embedded].copy()
    copies = rows >= spec.embedded
    if copies.any():
        vectors[copies] = _perturbed(vectors[copies], rng)
    return [build_point(e, vectors[j, 0].tolist(), vectors[j, 1].tolist()) for j, e in enumerate(batch)]


async def load_into(
    index: VectorIndex, spec: CorpusSpec, real: np.ndarray, model: str, *, label: str
) -> float:
    """Upsert the corpus into ``index`` (collection created afresh); returns the seconds it took."""
    await index.ensure_collection(model, DIM, recreate=True)
    started = time.perf_counter()
    done = 0
    for batch in corpus_points(spec, real):
        await index.upsert(batch)
        done += len(batch)
        rate = done / (time.perf_counter() - started)
        print(f"\r  loading {label}: {done:,}/{spec.n:,} points ({rate:,.0f}/s)", end="", flush=True)
    print()
    return time.perf_counter() - started


def _shard_key(spec: CorpusSpec, model: str, backend: str) -> str:
    identity = {
        **asdict(spec),
        "model": model,
        "backend": backend,
        "sigma": NOISE_SIGMA,
        "version": CORPUS_VERSION,
        "bm25": Bm25Encoder().identity,
        "qdrant_edge": _version("qdrant-edge-py"),
        "avs_indexer": _version("avs-indexer"),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return f"edge-{spec.n}-{spec.embedded}-{digest}"


def _version(dist: str) -> str:
    with contextlib.suppress(metadata.PackageNotFoundError):
        return metadata.version(dist)
    return "unknown"


def edge_collection(spec: CorpusSpec, embedder: MiniLMEmbedder, target: Path) -> str:
    """Put the built, optimised edge collection of ``spec`` at ``target`` (a copy of the cached one).

    Returns how it was obtained ("cached ..." or "built ..."), for the report.
    """
    backend = embedder.active_backend or embedder.backend
    cached = data_root() / _shard_key(spec, embedder.model_name, backend)
    how = f"copied from the cache {cached}"
    if not (cached / "collection.json").exists():
        real = real_vectors(spec, embedder)
        cached.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=cached.name + ".", dir=cached.parent))
        try:
            seconds = asyncio.run(_build(building / "anime", spec, real, embedder.model_name))
            os.replace(building / "anime", cached)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        how = f"built in {seconds:.0f} s and cached in {cached}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(cached, target, ignore=shutil.ignore_patterns("LOCK"))
    return how


async def _build(path: Path, spec: CorpusSpec, real: np.ndarray, model: str) -> float:
    index = EdgeVectorIndex(path)
    started = time.perf_counter()
    try:
        await load_into(index, spec, real, model, label="the Qdrant Edge collection")
        print("  optimising the collection (builds the HNSW graphs)...", flush=True)
        await index.optimize()
    finally:
        await index.close()
    return time.perf_counter() - started
