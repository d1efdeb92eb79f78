"""Benchmark: the two VectorIndex adapters side by side on synthetic ``anime`` points.

Loads ``n`` points (two 384-dim dense vectors, a BM25 sparse vector, a realistic
payload) into the Qdrant Edge adapter and into qdrant-client's local mode, then
measures at concurrency 1: upsert rate, and p50/p99 latency and queries/s of a
filtered structured scroll (order by popularity, genre + year-range filter),
dense search and hybrid (dense + BM25, RRF) search.

    python -m bench.vector_index [n] [server_n]

qdrant-client's local mode is pure Python/numpy (it is the test stand-in for a
server, not a server), so ``server_n`` can be set lower to keep the run short.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import numpy as np

from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.adapters.vector.qdrant_server import QdrantServerVectorIndex
from avs_shared.ports.vector import (
    DenseQuery,
    HybridQuery,
    Match,
    OrderBy,
    Range,
    SearchFilter,
    SparseQuery,
    VectorIndex,
    VectorPoint,
)

DIM = 384
BATCH = 500
GENRES = [
    "Action",
    "Adventure",
    "Comedy",
    "Drama",
    "Fantasy",
    "Horror",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Slice of Life",
]
TYPES = ["TV", "MOVIE", "OVA", "ONA", "SPECIAL"]
ROMAJI = [
    "shingeki",
    "kimetsu",
    "yaiba",
    "kyojin",
    "no",
    "sen",
    "to",
    "hikari",
    "yami",
    "sora",
    "umi",
    "hoshi",
    "kaze",
]
ENGLISH = [
    "attack",
    "titan",
    "demon",
    "slayer",
    "spirited",
    "away",
    "star",
    "ocean",
    "knight",
    "garden",
    "iron",
]
KANJI = list("進撃巨人鬼滅刃千尋神隠光闇空海星風花月雪桜夢恋")


def _unit_rows(rng: np.random.Generator, rows: int) -> np.ndarray:
    m = rng.normal(size=(rows, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _title(rng: np.random.Generator) -> list[str]:
    romaji = " ".join(rng.choice(ROMAJI, size=int(rng.integers(2, 5))))
    english = " ".join(rng.choice(ENGLISH, size=int(rng.integers(1, 4))))
    japanese = (
        "".join(rng.choice(KANJI, size=int(rng.integers(2, 6)))) + "の" + "".join(rng.choice(KANJI, size=2))
    )
    return [romaji, english, japanese]


def synthetic_points(n: int, seed: int = 42) -> Iterator[list[VectorPoint]]:
    """Batches of points; the same seed gives the same points for every adapter."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, BATCH):
        rows = min(BATCH, n - start)
        text, tags = _unit_rows(rng, rows), _unit_rows(rng, rows)
        batch = []
        for i in range(rows):
            k = start + i
            titles = _title(rng)
            batch.append(
                VectorPoint(
                    id=f"00000000-0000-4000-8000-{k:012d}",
                    vectors={"text": text[i].tolist(), "tags": tags[i].tolist()},
                    sparse_texts={"bm25": titles},
                    payload={
                        "title": titles[0],
                        "synonyms": titles[1:],
                        "type": TYPES[k % len(TYPES)],
                        "status": "FINISHED",
                        "year": int(rng.integers(1970, 2026)),
                        "genres": sorted({str(g) for g in rng.choice(GENRES, size=int(rng.integers(1, 4)))}),
                        "popularity": int(rng.zipf(1.5)) % 100_000,
                        "score": round(float(rng.uniform(4, 9.5)), 2),
                        "episodes": int(rng.integers(1, 60)),
                        "nsfw": bool(k % 50 == 0),
                        "system_status": "ACTIVE",
                    },
                )
            )
        yield batch


async def _load(index: VectorIndex, n: int) -> tuple[float, float]:
    """(upsert points/s, optimize seconds)."""
    await index.ensure_collection("bench-384", DIM, recreate=True)
    spent = 0.0  # upsert calls only, not generating the synthetic batches
    for batch in synthetic_points(n):
        started = time.perf_counter()
        await index.upsert(batch)
        spent += time.perf_counter() - started
    rate = n / spent
    started = time.perf_counter()
    await index.optimize()
    return rate, time.perf_counter() - started


Query = Callable[[int], Awaitable[object]]


def _workloads(index: VectorIndex) -> dict[str, Query]:
    rng = np.random.default_rng(7)
    vectors = _unit_rows(rng, 64)
    texts = [" ".join(_title(rng)[j][:12] for j in (0, 2)) for _ in range(64)]

    def scroll(i: int) -> Awaitable[object]:
        year = 1975 + (i * 7) % 45
        f = SearchFilter(
            must=[Match("genres", GENRES[i % len(GENRES)]), Range("year", gte=year, lte=year + 5)]
        )
        return index.scroll(order_by=OrderBy("popularity", "desc"), filter=f, limit=20)

    def dense(i: int) -> Awaitable[object]:
        return index.search(DenseQuery(vectors[i % 64].tolist()), limit=10)

    def hybrid(i: int) -> Awaitable[object]:
        query = HybridQuery(
            dense=[DenseQuery(vectors[i % 64].tolist())], sparse=SparseQuery(text=texts[i % 64])
        )
        return index.search(query, limit=10)

    return {
        "filtered scroll (order by popularity)": scroll,
        "dense search": dense,
        "hybrid search (RRF)": hybrid,
    }


async def _measure(query: Query, budget_s: float, max_queries: int) -> tuple[float, float, float, int]:
    for i in range(3):  # warm-up
        await query(i)
    latencies: list[float] = []
    started = time.perf_counter()
    while len(latencies) < max_queries and time.perf_counter() - started < budget_s:
        t0 = time.perf_counter()
        await query(len(latencies))
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return statistics.median(latencies) * 1e3, p99 * 1e3, len(latencies) / total, len(latencies)


async def _bench(index: VectorIndex, n: int, budget_s: float) -> dict[str, str]:
    rate, optimize_s = await _load(index, n)
    row = {"points": f"{n:,}", "upsert": f"{rate:,.0f} points/s", "optimize": f"{optimize_s:.1f} s"}
    for name, query in _workloads(index).items():
        p50, p99, qps, count = await _measure(query, budget_s, 500)
        row[name] = f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  {qps:7.1f} q/s  (n={count})"
    await index.close()
    return row


async def _run(n: int, server_n: int, budget_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        edge = await _bench(EdgeVectorIndex(Path(tmp) / "qdrant-edge" / "anime"), n, budget_s)
    from qdrant_client import AsyncQdrantClient

    local = QdrantServerVectorIndex(AsyncQdrantClient(location=":memory:"), owns_client=True)
    server = await _bench(local, server_n, budget_s)
    width = max(len(k) for k in edge)
    print(f"{'':{width}}  {'Qdrant Edge (in-process)':58}  qdrant-client local mode")
    for key in edge:
        print(f"{key:{width}}  {edge[key]:58}  {server[key]}")


def run(n: int = 40_000, server_n: int | None = None, budget_s: float = 10.0) -> None:
    """Load ``n`` points into each adapter (``server_n`` for local mode) and print the table."""
    asyncio.run(_run(n, server_n if server_n is not None else n, budget_s))


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    run(*args)
