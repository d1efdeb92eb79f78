"""Benchmark: the API under load, against the two limits it cannot beat, on an ``n``-anime index.

Through the HTTP stack as a client sees it: the real app (``avs_api.app.create_app``:
routing, validation, the Redis response cache, ETags, JSON) on uvicorn with httptools
and uvloop in a server process of its own, and a lean keep-alive HTTP/1.1 client
(:mod:`bench._http_load`) in this process, over loopback TCP. Three workloads:

``structured``
    ``GET /search/structured`` with distinct filter combinations (1-2 genres, a year
    range, sometimes a type or status; sorted by popularity, score or year; page 1-3
    of 20). Every query is new, so every answer is computed: a Redis response-cache
    miss, the index requests, the stored response. (Sort by title is left out: its
    order is cached per filter, and a new filter scrolls every matching title.)
``hybrid``
    ``GET /search/semantic?q=`` (hybrid: query embedding + dense, BM25 and RRF, plus
    the exact-title probe) with distinct texts: titles of indexed anime and 5-12 word
    fragments of synopses. Every query is embedded afresh (no LRU hit).
``lookups``
    ``GET /anime/{id}`` of ``lookups`` anime whose entries are in DynamoDB (moto) and
    already in the Redis cache (``anime:<id>``, filled by one read each before).

Each runs at concurrency 1 (p50/p99 latency) and 16 (throughput), against three servers
in turn (:data:`EDGE_SERVERS`): the Qdrant Edge shard and the query embedder in the server
process; the shard in a worker process with the embedder on a thread of the server (hybrid
search only); and both in worker processes of their own (the default: the engine holds
the GIL for each call, and the embedding thread waited for the GIL behind the event loop).
The structured and hybrid workloads then run again, the same queries in the same order,
against a server whose index is qdrant-client's local mode (``QdrantServerVectorIndex``
over ``AsyncQdrantClient(location=":memory:")``, built in that process from the same
corpus, the embedder in the server process as in the first): the speed-up is Qdrant
Edge over local mode.

The limits, measured in this process with the same Edge collection, before the API
runs and again after them (the two are averaged; the report shows both):

* raw index query throughput: what one structured search asks of the index (the page
  via ``avs_api.search.pages.ordered_page`` and the exact count, concurrently) for the
  same structured queries, at concurrency 16, no HTTP, no service layer;
* raw query-embedding throughput: the API's query-embedding path
  (``avs_api.search.service.query_vector``, with the model configured as the API
  configures its own: ``avs_api.bootstrap.query_model``, in this process, so no pipe
  to a worker counts against the limit) for distinct texts at concurrency 16; and the
  embedder alone, one query per call, at concurrency 1.

Goals: hybrid c=16 >= 0.7 x raw embedding; structured c=16 >= 0.5 x raw index; p99 at
c=1 <= 10 ms structured and <= 30 ms hybrid; cached lookups >= 1,500 requests/s.

The corpus (:mod:`bench._api_corpus`): ``n`` synthetic anime with their own payloads
and BM25 titles; dense vectors from the real model for the first ``embedded`` and
perturbed copies of those for the rest (embedding 2n texts takes hours here). The real
vectors and the built collection are cached under ``<AVS_DATA_DIR>/bench/api``.

    python -m bench.api [n]
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from avs_api.bootstrap import query_model
from avs_api.search.filters import Vocabulary, to_search_filter
from avs_api.search.pages import ordered_page
from avs_api.search.params import DEFAULT_ORDER, Pagination, SearchFilters, Sort
from avs_api.search.service import SORT_FIELDS, query_vector
from avs_api.settings import ApiSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.embedding import MiniLMEmbedder
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.embedded.processes import free_port
from avs_shared.ports.vector import SearchFilter, StatusScope
from avs_shared.settings import ServiceSettings
from bench._api_corpus import CorpusSpec, edge_collection, entries, model_root
from bench._http_load import LoadResult, run_load
from bench._stack import REPO, Stack, provision, throwaway_stack, tree_cpu_s

CONCURRENCY = 16
HOST = "127.0.0.1"
TYPES = ("TV", "MOVIE", "OVA", "ONA", "SPECIAL")
STATUSES = ("FINISHED", "ONGOING", "UPCOMING")
STRUCTURED_SORTS = (Sort.POPULARITY, Sort.SCORE, Sort.YEAR)
GOALS = {
    "hybrid_vs_embedding": 0.7,
    "structured_vs_index": 0.5,
    "structured_p99_ms": 10.0,
    "hybrid_p99_ms": 30.0,
    "lookups_rps": 1500.0,
}
#: The configurations the API is measured in: (result key, ``--index`` and ``--embedder`` of
#: ``bench._api_server``, label, Redis database, workloads). ``edge``: the Edge shard and the
#: query embedder in the server process; ``edge_process_thread``: the shard in a worker
#: process, the embedder on a thread of the server (the default until this change; only
#: hybrid search embeds, so only it runs); ``edge_process``: both in worker processes (the
#: default).
EDGE_SERVERS: tuple[tuple[str, str, str, str, int, tuple[str, ...]], ...] = (
    (
        "edge",
        "edge",
        "thread",
        "shard and query embedder in the server process "
        "(AVS_EDGE_INDEX_PROCESS=false, AVS_QUERY_EMBEDDING_PROCESS=false)",
        1,
        ("structured", "hybrid", "lookups"),
    ),
    (
        "edge_process_thread",
        "edge-process",
        "thread",
        "shard in a worker process, query embedder in the server process (AVS_QUERY_EMBEDDING_PROCESS=false)",
        4,
        ("hybrid",),
    ),
    (
        "edge_process",
        "edge-process",
        "process",
        "shard and query embedder in worker processes (the default)",
        2,
        ("structured", "hybrid", "lookups"),
    ),
)
#: Entries the query generators draw titles, synopses and genres from.
_QUERY_SOURCE = 3000


# ----------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class StructuredQuery:
    filters: SearchFilters
    sort: Sort
    page: int
    limit: int = 20

    def target(self) -> str:
        f = self.filters
        params: list[tuple[str, Any]] = [("genre", g) for g in f.genres_all]
        params += [("year_from", f.year_from), ("year_to", f.year_to)]
        params += [("type", t.value) for t in f.type] + [("status", s.value) for s in f.status]
        params += [("sort", self.sort.value), ("page", self.page), ("limit", self.limit)]
        return "/search/structured?" + urlencode(params)


class StructuredQueries:
    """Distinct structured searches, the same sequence for the same seed."""

    def __init__(self, genres: list[str], seed: int) -> None:
        self._genres = genres
        self._rng = random.Random(seed)
        self._seen: set[str] = set()

    def __call__(self) -> StructuredQuery:
        rng = self._rng
        while True:
            year_from = rng.randint(1965, 2022)
            filters = SearchFilters(
                genres_all=rng.sample(self._genres, rng.choice((1, 1, 2))),
                year_from=year_from,
                year_to=year_from + rng.randint(0, 12),
                type=[rng.choice(TYPES)] if rng.random() < 0.3 else [],
                status=[rng.choice(STATUSES)] if rng.random() < 0.2 else [],
            )
            query = StructuredQuery(filters, rng.choice(STRUCTURED_SORTS), rng.randint(1, 3))
            if (target := query.target()) not in self._seen:
                self._seen.add(target)
                return query


class TextQueries:
    """Distinct query texts: titles of indexed anime (30 %) and 5-12 word synopsis fragments."""

    def __init__(self, titles: list[str], sentences: list[list[str]], seed: int) -> None:
        self._titles, self._sentences = titles, sentences
        self._rng = random.Random(seed)
        self._seen: set[str] = set()

    def __call__(self) -> str:
        rng = self._rng
        while True:
            if rng.random() < 0.3:
                text = rng.choice(self._titles)
            else:
                words = rng.choice(self._sentences)
                k = rng.randint(5, 12)
                start = rng.randint(0, max(0, len(words) - k))
                text = " ".join(words[start : start + k])
            text = " ".join(text.split())[:300]
            if text and text not in self._seen:
                self._seen.add(text)
                return text


@dataclass(frozen=True)
class QuerySources:
    genres: list[str]
    titles: list[str]
    sentences: list[list[str]]
    lookup_ids: list[str]

    def structured(self, seed: int) -> StructuredQueries:
        return StructuredQueries(self.genres, seed)

    def texts(self, seed: int) -> TextQueries:
        return TextQueries(self.titles, self.sentences, seed)


def query_sources(spec: CorpusSpec, lookups: int) -> QuerySources:
    genres: set[str] = set()
    titles: list[str] = []
    sentences: list[list[str]] = []
    ids: list[str] = []
    for i, entry in enumerate(entries(spec, 0, min(spec.n, max(_QUERY_SOURCE, lookups)))):
        if i < lookups:
            ids.append(entry.id)
        if i >= _QUERY_SOURCE:
            continue
        genres.update(entry.genres)
        titles.extend(t for t in (entry.title, entry.title_english) if t)
        for sentence in re.split(r"(?<=[.!?])\s+", entry.synopsis or ""):
            if len(words := sentence.split()) >= 5:
                sentences.append(words)
    return QuerySources(sorted(genres), titles, sentences, ids)


# ----------------------------------------------------------------------------- the limits


async def _raw_index(index: EdgeVectorIndex, queries: StructuredQueries, budget_s: float) -> dict[str, float]:
    """The index requests of one structured search, per query, at concurrency 16 (no HTTP)."""
    everything = SearchFilter(status=StatusScope.ANY)
    genres, ratings = await asyncio.gather(
        index.facets("genres", filter=everything, limit=1000),
        index.facets("rating", filter=everything, limit=200),
    )
    vocabulary = Vocabulary.from_values(
        {"genres": [str(f.value) for f in genres], "rating": [str(f.value) for f in ratings]}
    )

    async def one() -> None:
        q = queries()
        flt = to_search_filter(q.filters, vocabulary)
        pagination = Pagination(limit=q.limit, page=q.page)
        await asyncio.gather(
            ordered_page(index, flt, SORT_FIELDS[q.sort], DEFAULT_ORDER[q.sort], pagination, None),
            index.count(flt),
        )

    return await _closed_loop(one, CONCURRENCY, budget_s)


async def _raw_embedding(embedder: MiniLMEmbedder, texts: TextQueries, budget_s: float) -> dict[str, float]:
    """Query embedding: the API's path at concurrency 16, and the embedder alone at concurrency 1."""

    async def api_path() -> None:
        await query_vector(embedder, texts())

    async def single() -> None:
        await embedder.embed([texts()])

    c16 = await _closed_loop(api_path, CONCURRENCY, budget_s)
    c1 = await _closed_loop(single, 1, budget_s / 2)
    return {"c16_rps": c16["rps"], "c16_cpu_ms": c16["cpu_ms"], "c1_rps": c1["rps"]}


async def _closed_loop(one: Callable[[], Any], concurrency: int, budget_s: float) -> dict[str, float]:
    """Calls/s of ``one`` from ``concurrency`` concurrent callers, and this process's CPU per call."""
    for _ in range(3):
        await one()
    done = 0
    started, cpu = time.perf_counter(), time.process_time()
    deadline = started + budget_s

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await one()
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    spent = time.process_time() - cpu
    return {"rps": done / (time.perf_counter() - started), "n": done, "cpu_ms": spent * 1e3 / max(done, 1)}


def measure_limits(
    edge_dir: Path, embedder: MiniLMEmbedder, sources: QuerySources, seed: int, budget_s: float
) -> dict[str, float]:
    """The two limits; ``embedder`` must be configured as the API's (``query_model``)."""

    async def both() -> dict[str, float]:
        index = EdgeVectorIndex(edge_dir)
        await index.ensure_collection(embedder.model_name, embedder.dimension)
        try:
            raw_index = await _raw_index(index, sources.structured(seed), budget_s)
        finally:
            await index.close()
        embedding = await _raw_embedding(embedder, sources.texts(seed), budget_s)
        return {
            "index_rps": raw_index["rps"],
            "index_cpu_ms": raw_index["cpu_ms"],
            "embed_rps": embedding["c16_rps"],
            "embed_cpu_ms": embedding["c16_cpu_ms"],
            "embed_c1_rps": embedding["c1_rps"],
        }

    return asyncio.run(both())


# ----------------------------------------------------------------------------- the server


class ApiServer:
    """``python -m bench._api_server`` in a child process, on a free loopback port."""

    def __init__(
        self,
        stack: Stack,
        index: str,
        spec: CorpusSpec,
        redis_db: int,
        profile: Path | None = None,
        embedder: str = "process",
    ) -> None:
        self.port = free_port()
        self.log = stack.root / f"api-{index}-{embedder}.log"
        base, _, _ = stack.redis.url.rpartition("/")
        args = [
            sys.executable,
            "-m",
            "bench._api_server",
            "--port",
            str(self.port),
            "--data-dir",
            str(stack.data_dir),
            "--redis-url",
            f"{base}/{redis_db}",
            "--aws-endpoint",
            stack.moto.url,
            "--index",
            index,
            "--embedder",
            embedder,
            "--n",
            str(spec.n),
            "--embedded",
            str(spec.embedded),
            "--seed",
            str(spec.seed),
            *(["--profile", str(profile)] if profile else []),
        ]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API server exited ({self.process.returncode}):\n{self.tail()}")
            with contextlib.suppress(OSError, TimeoutError):
                probe = run_load(
                    HOST, self.port, lambda: "/health", concurrency=1, budget_s=0, max_requests=0, warmup=1
                )
                asyncio.run(probe)
                return
            time.sleep(0.5)
        raise TimeoutError(f"the API server did not answer within {timeout_s:g}s:\n{self.tail()}")

    def cpu_s(self) -> float:
        """CPU seconds of the server and its children (the index worker, when it has one)."""
        if self.process.poll() is not None:
            return float("nan")
        return tree_cpu_s(self.process.pid)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass(frozen=True)
class Measured:
    """One workload at one concurrency, with the CPU the server and this client spent on it."""

    load: LoadResult
    server_cpu_s: float
    client_cpu_s: float

    def row(self) -> dict[str, Any]:
        n = max(self.load.requests, 1)
        return {
            "concurrency": self.load.concurrency,
            "requests": self.load.requests,
            "seconds": round(self.load.seconds, 2),
            "rps": round(self.load.rate, 1),
            "p50_ms": round(self.load.p50_ms, 2) if self.load.requests else None,
            "p99_ms": round(self.load.p99_ms, 2) if self.load.requests else None,
            "errors": self.load.errors,
            "statuses": dict(self.load.statuses),
            "bytes_per_response": round(self.load.bytes / n),
            "reconnects": self.load.reconnects,
            "server_cpu_ms_per_request": round(self.server_cpu_s * 1e3 / n, 3),
            "client_cpu_ms_per_request": round(self.client_cpu_s * 1e3 / n, 3),
        }


def _measure(
    server: ApiServer,
    next_target: Callable[[], str],
    concurrency: int,
    budget_s: float,
    max_requests: int,
    timeout_s: float = 60.0,
    warmup: int = 2,
) -> dict[str, Any]:
    cpu0, client0 = server.cpu_s(), time.process_time()
    load = asyncio.run(
        run_load(
            HOST,
            server.port,
            next_target,
            concurrency=concurrency,
            budget_s=budget_s,
            max_requests=max_requests,
            warmup=warmup,
            timeout_s=timeout_s,
        )
    )
    measured = Measured(load, server.cpu_s() - cpu0, time.process_time() - client0)
    row = measured.row()
    print(
        f"    c={concurrency:<2}  {row['requests']:>6} requests in {row['seconds']:5.1f} s  "
        f"{row['rps']:8.1f} req/s  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  errors {row['errors']}",
        flush=True,
    )
    if load.errors:
        print(f"      non-200 answers: {dict(load.statuses)}; server log:\n{server.tail(10)}")
    return row


def _workloads(
    server: ApiServer,
    sources: QuerySources,
    seed: int,
    budget_s: float,
    max_requests: int,
    names: tuple[str, ...],
    timeout_s: float = 60.0,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    structured, texts = sources.structured(seed), sources.texts(seed)
    ids = sources.lookup_ids
    cycle = iter(range(10**12))
    makers: dict[str, Callable[[], str]] = {
        "structured": lambda: structured().target(),
        "hybrid": lambda: "/search/semantic?" + urlencode({"q": texts(), "limit": 10}),
        "lookups": lambda: f"/anime/{ids[next(cycle) % len(ids)]}",
    }
    for name in names:
        print(f"  {name}:", flush=True)
        out[name] = {
            "c1": _measure(server, makers[name], 1, budget_s, max_requests, timeout_s),
            "c16": _measure(
                server, makers[name], CONCURRENCY, budget_s, max_requests * CONCURRENCY, timeout_s
            ),
        }
    return out


def _warm_lookups(server: ApiServer, ids: list[str]) -> LoadResult:
    queue = iter(ids)
    return asyncio.run(
        run_load(
            HOST,
            server.port,
            lambda: f"/anime/{next(queue)}",
            concurrency=1,
            budget_s=3600,
            max_requests=len(ids),
        )
    )


async def _store_entries(settings: ServiceSettings, spec: CorpusSpec, count: int) -> None:
    async with AwsClients(settings) as aws:
        store = DynamoEntryStore(aws, objects=S3ObjectStore(aws))
        batch = list(entries(spec, 0, count))
        for start in range(0, len(batch), 500):
            await store.batch_put(batch[start : start + 500])


# ----------------------------------------------------------------------------- run


def run(
    n: int = 40_000,
    embedded: int = 1_000,
    lookups: int = 2_000,
    budget_s: float = 10.0,
    local_budget_s: float = 10.0,
    limits_budget_s: float = 5.0,
    max_requests: int = 100_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Run everything (see the module doc) and return the numbers."""
    spec = CorpusSpec(n, min(embedded, n), seed)
    lookups = min(lookups, n)
    print(f"  corpus: {spec.describe()}", flush=True)
    embedder = MiniLMEmbedder(model_root())  # builds the corpus: a thread per core
    backend = embedder.warm_up()
    # The limits use the model exactly as the API configures its own, in this process.
    api_embedder = query_model(ApiSettings(data_dir=model_root()))
    api_embedder.warm_up()
    result: dict[str, Any] = {
        "n": n,
        "corpus": spec.describe(),
        "backend": backend,
        "client": "lean keep-alive HTTP/1.1 client (asyncio + httptools) in the benchmark process, "
        "over loopback TCP",
    }
    with throwaway_stack(prefix="avs-bench-api-") as stack:
        settings = stack.settings()
        asyncio.run(provision(settings))
        edge_dir = stack.data_dir / "qdrant-edge" / "anime"
        result["collection"] = edge_collection(spec, embedder, edge_dir)
        print(f"  collection: {result['collection']}", flush=True)
        started = time.perf_counter()
        asyncio.run(_store_entries(settings, spec, lookups))
        print(
            f"  stored {lookups:,} entries in DynamoDB (moto) in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        sources = query_sources(spec, lookups)

        print("  limits (in this process), before the API runs:", flush=True)
        before = measure_limits(edge_dir, api_embedder, sources, seed + 1, limits_budget_s)
        print(f"    {_limits_line(before)}", flush=True)

        # Each server has a Redis database of its own: no answer cached by one is a hit for the next.
        for key, index, embedder_kind, label, redis_db, names in EDGE_SERVERS:
            print(f"  API over Qdrant Edge, {label}:", flush=True)
            server = ApiServer(stack, index, spec, redis_db=redis_db, embedder=embedder_kind)
            try:
                server.wait_ready(120)
                result["server"] = server.tail(5).splitlines()[-1] if server.tail(5) else ""
                warm = _warm_lookups(server, sources.lookup_ids)
                print(f"    warmed the entry cache: {warm.requests:,} reads ({warm.errors} errors)")
                result[key] = _workloads(server, sources, seed, budget_s, max_requests, names)
            finally:
                server.stop()

        print("  limits, after the API runs:", flush=True)
        after = measure_limits(edge_dir, api_embedder, sources, seed + 2, limits_budget_s)
        print(f"    {_limits_line(after)}", flush=True)
        result["limits"] = {
            "before": before,
            "after": after,
            "mean": {k: (before[k] + after[k]) / 2 for k in before},
        }

        print("  API over qdrant-client local mode (the server builds it first):", flush=True)
        # The query embedder as in ``edge``: the two differ in the index only.
        server = ApiServer(stack, "local", spec, redis_db=3, embedder="thread")
        try:
            server.wait_ready(3600)
            # Local mode answers one request at a time: at c=16 a request waits for 15 others.
            result["local"] = _workloads(
                server,
                sources,
                seed,
                local_budget_s,
                max(50, max_requests // 100),
                ("structured", "hybrid"),
                timeout_s=1800,
            )
        finally:
            server.stop()
    embedder.close()
    api_embedder.close()
    return result


def _limits_line(limits: dict[str, float]) -> str:
    return (
        f"raw index (structured search's requests, c=16) {limits['index_rps']:,.0f} q/s "
        f"({limits['index_cpu_ms']:.2f} CPU ms/q);  query embedding (API path, c=16) "
        f"{limits['embed_rps']:,.1f}/s ({limits['embed_cpu_ms']:.2f} CPU ms/q);  "
        f"embedder alone (c=1) {limits['embed_c1_rps']:,.1f}/s"
    )


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def print_report(result: dict[str, Any]) -> None:
    edge, local, limits = result["edge"], result["local"], result["limits"]["mean"]
    configs = [(key, label) for key, _, _, label, _, _ in EDGE_SERVERS if key in result]
    print()
    print(f"corpus      {result['corpus']}")
    print(f"collection  {result['collection']}")
    print(f"model       all-MiniLM-L6-v2, {result['backend']}")
    print(f"server      {result.get('server', '')}; rate limiting off; Redis response cache on")
    print(f"client      {result['client']}")
    print()
    header = (
        f"{'workload':<40}{'p50 c=1':>10}{'p99 c=1':>10}{'req/s c=16':>12}{'p50 c=16':>10}{'p99 c=16':>10}"
    )
    header += f"{'srv ms/req':>12}{'cli ms/req':>12}"
    print(header)
    tags = {
        "edge": "Edge in-process",
        "edge_process_thread": "Edge worker, embed thread",
        "edge_process": "Edge+embed workers",
        "local": "local mode",
    }
    blocks = [(tags[key], result[key]) for key, _ in configs] + [(tags["local"], local)]
    for label, block in blocks:
        for name, rows in block.items():
            c1, c16 = rows["c1"], rows["c16"]
            print(
                f"{name + ' (' + label + ')':<40}{c1['p50_ms']:>8.2f}ms{c1['p99_ms']:>8.2f}ms"
                f"{c16['rps']:>12,.1f}"
                f"{c16['p50_ms']:>8.1f}ms{c16['p99_ms']:>8.1f}ms"
                f"{c16['server_cpu_ms_per_request']:>12.3f}{c16['client_cpu_ms_per_request']:>12.3f}"
            )
    print(
        "(srv/cli ms/req: CPU of the server process and its children (the workers) / of this "
        "client per request, at c=16)"
    )
    errors = sum(r[c]["errors"] for _, block in blocks for r in block.values() for c in ("c1", "c16"))
    print(
        f"(non-200 answers: {errors}; c=1 rows: n = {edge['structured']['c1']['requests']} structured, "
        f"{edge['hybrid']['c1']['requests']} hybrid, "
        f"{local['structured']['c1']['requests']} local-mode structured)"
    )
    print()
    print("Qdrant Edge (in-process) vs qdrant-client local mode (same queries, same order):")
    for name in ("structured", "hybrid"):
        e, m = edge[name], local[name]
        print(
            f"  {name:<11} p50 c=1 {_ratio(m['c1']['p50_ms'], e['c1']['p50_ms']):6.1f}x faster;  "
            f"throughput c=16 {_ratio(e['c16']['rps'], m['c16']['rps']):6.1f}x higher"
        )
    if "edge_process" in result:
        print("Edge shard and query embedder in workers vs both in-process (same queries, same order):")
        for name in ("structured", "hybrid", "lookups"):
            w, e = result["edge_process"][name], edge[name]
            print(
                f"  {name:<11} throughput c=16 {_ratio(w['c16']['rps'], e['c16']['rps']):5.2f}x;  "
                f"p50 c=1 {w['c1']['p50_ms']:.2f} vs {e['c1']['p50_ms']:.2f} ms"
            )
    if "edge_process" in result and "edge_process_thread" in result:
        w, t = result["edge_process"]["hybrid"], result["edge_process_thread"]["hybrid"]
        print("Query embedder in a worker vs on a thread of the server (shard in a worker both):")
        print(
            f"  hybrid      throughput c=16 {_ratio(w['c16']['rps'], t['c16']['rps']):5.2f}x;  "
            f"p50 c=1 {w['c1']['p50_ms']:.2f} vs {t['c1']['p50_ms']:.2f} ms"
        )
    print()
    b, a = result["limits"]["before"], result["limits"]["after"]
    print("limits (in-process, same collection; before / after the API runs -> mean):")
    print(
        f"  raw index queries (a structured search's requests, c=16)  "
        f"{b['index_rps']:,.0f} / {a['index_rps']:,.0f} -> {limits['index_rps']:,.0f} q/s   "
        f"({limits['index_cpu_ms']:.2f} CPU ms per query)"
    )
    print(
        f"  raw query embedding (the API's path in-process, c=16)    "
        f"{b['embed_rps']:,.1f} / {a['embed_rps']:,.1f} -> {limits['embed_rps']:,.1f} /s   "
        f"({limits['embed_cpu_ms']:.2f} CPU ms per query)"
    )
    print(
        f"  embedder alone, one query per call (c=1)                 "
        f"{b['embed_c1_rps']:,.1f} / {a['embed_c1_rps']:,.1f} -> {limits['embed_c1_rps']:,.1f} /s"
    )
    for key, label in configs:
        print()
        print(f"goals, {label}:")
        _print_goals(result[key], limits)


def _print_goals(edge: dict[str, Any], limits: dict[str, float]) -> None:
    hybrid_ratio = _ratio(edge["hybrid"]["c16"]["rps"], limits["embed_rps"])
    checks = [
        (
            "hybrid throughput / raw query embedding",
            f"{hybrid_ratio:.2f}",
            hybrid_ratio >= GOALS["hybrid_vs_embedding"],
            ">= 0.7",
        ),
    ]
    if "structured" in edge:  # a configuration measured on hybrid search only has the one goal
        checks += _other_goals(edge, limits)
    for label, value, ok, goal in checks:
        print(f"  {label:<44}{value:>14}   goal {goal:<14} {'met' if ok else 'MISSED'}")


def _other_goals(edge: dict[str, Any], limits: dict[str, float]) -> list[tuple[str, str, bool, str]]:
    structured_ratio = _ratio(edge["structured"]["c16"]["rps"], limits["index_rps"])
    return [
        (
            "structured throughput / raw index queries",
            f"{structured_ratio:.2f}",
            structured_ratio >= GOALS["structured_vs_index"],
            ">= 0.5",
        ),
        (
            "structured p99 at c=1",
            f"{edge['structured']['c1']['p99_ms']:.2f} ms",
            edge["structured"]["c1"]["p99_ms"] <= GOALS["structured_p99_ms"],
            "<= 10 ms",
        ),
        (
            "hybrid p99 at c=1",
            f"{edge['hybrid']['c1']['p99_ms']:.2f} ms",
            edge["hybrid"]["c1"]["p99_ms"] <= GOALS["hybrid_p99_ms"],
            "<= 30 ms",
        ),
        (
            "cached lookups at c=16",
            f"{edge['lookups']['c16']['rps']:,.0f} req/s",
            edge["lookups"]["c16"]["rps"] >= GOALS["lookups_rps"],
            ">= 1,500 req/s",
        ),
    ]


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 40_000
    print_report(run(n=size))
