"""Benchmark: a bootstrap end to end against embedding alone, on a throwaway embedded stack.

A synthetic enriched file of ``n`` entries goes through the real bootstrap path
(``avs_indexer.bulk.bootstrap`` with the local executor: validation, S3 upload of the
snapshot, chunk staging, SQS, DynamoDB batch writes, vector upserts into a Qdrant Edge
shard, one SNS ``image-requested`` per image URL) on a moto server + redis-server
started for the run. The same model (all-MiniLM-L6-v2, ONNX int8) embeds exactly the
texts the pipeline embeds, in the same batches, with nothing else running; the ratio
of the two rates is what the pipeline costs on top of embedding (goal: >= 0.85).

Fairness: the model is warmed up first, and the embedding baseline is split in two
halves measured right before and right after the pipeline, so drift in machine load
hits both sides. The ONNX-int8 vs PyTorch speed-up is measured last, on a sample of
the same texts in interleaved rounds (loading torch would inflate the peak memory).

The report also breaks the bootstrap's CPU time down by process and thread (this
process's event loop, its other threads, the model, moto, redis) and gives the wall
time during which each kind of port call was in flight.

    python -m bench.indexing [n]

The ONNX export is cached under ``$AVS_DATA_DIR/models`` (default ``.data/models``).
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import dataclasses
import io
import json
import os
import pstats
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from avs_indexer.bulk import bootstrap, parse_enriched
from avs_indexer.documents import entry_texts
from avs_indexer.handlers import image_request_events, publish_all
from avs_indexer.indexing import build_point
from avs_indexer.ports import IndexerPorts, open_indexer_ports
from avs_indexer.synthetic import generate_entries, write_enriched_file
from avs_shared.adapters.embedding import MiniLMEmbedder
from avs_shared.runtime.logging import configure_logging
from avs_shared.schema import AnimeEntry, image_urls
from avs_shared.settings import ServiceSettings, load_settings
from avs_shared.topology import TOPIC_IMAGE_REQUESTED, TOPOLOGY
from bench._stack import ProcStats, Stack, proc_stats, provision, purge_queues, throwaway_stack

GOAL = 0.85
DRAIN_INTERVAL_S = 1.0
# Nothing consumes image requests during a benchmark, and moto's SQS SendMessage costs
# O(queue depth) (it recomputes the queue's attributes, which count every message), so a
# growing queue makes every later publish slower: quadratic in n. Purging these queues
# every DRAIN_INTERVAL_S stands in for an image ingestor that keeps up.
IMAGE_QUEUES = tuple(s.queue for s in TOPOLOGY.subscriptions if s.topic == TOPIC_IMAGE_REQUESTED)
ROUNDS = 4  # interleaved rounds of the int8-vs-torch comparison


# --------------------------------------------------------------------------- inputs


@dataclasses.dataclass
class Workload:
    """The embedder calls a bootstrap makes, in order: one list of texts per call."""

    calls: list[list[str]]
    entries_per_call: list[int]
    texts: int
    chars: int
    images: int


def pipeline_workload(n: int, *, seed: int, chunk_size: int, batch_size: int) -> Workload:
    """The exact embedder inputs of a bootstrap of ``generate_entries(n, seed)``.

    A bulk chunk of ``chunk_size`` entries is written by an ``IndexWriter`` in batches of
    ``batch_size`` entries, each one ``embed(texts + tags)`` call (``embed_points``).
    ``write_enriched_file`` writes exactly these entry dicts, so the texts are identical.
    """
    calls: list[list[str]] = []
    sizes: list[int] = []
    images = 0

    def flush(chunk: list[Any]) -> None:
        for i in range(0, len(chunk), batch_size):
            batch = chunk[i : i + batch_size]
            calls.append([t.text for t in batch] + [t.tags for t in batch])
            sizes.append(len(batch))

    chunk: list[Any] = []
    for raw in generate_entries(n, seed=seed):
        entry = AnimeEntry.from_json_dict(raw)
        images += len(image_urls(entry))
        chunk.append(entry_texts(entry))
        if len(chunk) == chunk_size:
            flush(chunk)
            chunk = []
    flush(chunk)
    texts = sum(len(c) for c in calls)
    chars = sum(len(t) for c in calls for t in c)
    return Workload(calls, sizes, texts, chars, images)


# --------------------------------------------------------------------------- measuring helpers


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclasses.dataclass
class _Span:
    calls: int = 0
    active: int = 0
    since: float = 0.0
    busy_s: float = 0.0  # wall time with at least one call in flight
    summed_s: float = 0.0  # sum of call durations (overlapping calls count twice)


class CallTimers:
    """Wall time of awaited port calls, by category."""

    def __init__(self) -> None:
        self.spans: dict[str, _Span] = {}

    @contextlib.contextmanager
    def span(self, category: str) -> Iterator[None]:
        s = self.spans.setdefault(category, _Span())
        started = time.perf_counter()
        if s.active == 0:
            s.since = started
        s.active += 1
        try:
            yield
        finally:
            ended = time.perf_counter()
            s.active -= 1
            s.calls += 1
            s.summed_s += ended - started
            if s.active == 0:
                s.busy_s += ended - s.since

    def wrap(self, target: Any, methods: dict[str, str]) -> Any:
        """A proxy of ``target`` whose coroutine ``methods`` (name -> category) are timed."""
        return _Timed(target, self, methods)


class _Timed:
    def __init__(self, target: Any, timers: CallTimers, methods: dict[str, str]) -> None:
        self._target = target
        self._timers = timers
        self._methods = methods

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        category = self._methods.get(name)
        if category is None:
            return attr
        timers = self._timers

        async def timed(*args: Any, **kwargs: Any) -> Any:
            with timers.span(category):
                return await attr(*args, **kwargs)

        return timed


def _instrument(ports: IndexerPorts, embedder: MiniLMEmbedder, timers: CallTimers) -> IndexerPorts:
    """The same ports with our (warm) embedder and timed entry store, index, publisher, S3."""
    return dataclasses.replace(
        ports,
        embedder=timers.wrap(embedder, {"embed": "embedding (model calls)"}),
        entries=timers.wrap(ports.entries, {"batch_put": "DynamoDB batch writes (entries)"}),
        index=timers.wrap(ports.index, {"upsert": "vector upserts", "optimize": "vector optimize"}),
        publisher=timers.wrap(ports.publisher, {"publish": "SNS publishes (image requests)"}),
        objects=timers.wrap(ports.objects, {"put": "S3 put", "get": "S3 get", "head": "S3 head"}),
    )


@dataclasses.dataclass
class _Snapshot:
    at: float
    process_cpu: float
    loop_cpu: float
    moto: ProcStats | None
    redis: ProcStats | None

    @classmethod
    def take(cls, stack: Stack) -> _Snapshot:
        return cls(
            time.perf_counter(),
            _process_cpu(),
            time.thread_time(),  # call from the event loop's thread
            proc_stats(stack.moto_pid()),
            proc_stats(stack.redis_pid()),
        )


def _cpu_between(a: _Snapshot, b: _Snapshot) -> dict[str, float]:
    def child(x: ProcStats | None, y: ProcStats | None) -> float:
        return y.cpu_s - x.cpu_s if x is not None and y is not None else float("nan")

    return {
        "wall_s": b.at - a.at,
        "process_cpu_s": b.process_cpu - a.process_cpu,
        "loop_cpu_s": b.loop_cpu - a.loop_cpu,
        "moto_cpu_s": child(a.moto, b.moto),
        "redis_cpu_s": child(a.redis, b.redis),
    }


# --------------------------------------------------------------------------- the measurements


def _embed_calls(embedder: MiniLMEmbedder, calls: list[list[str]]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) to embed every call, one after another."""
    cpu = _process_cpu()
    started = time.perf_counter()
    for texts in calls:
        embedder.embed_sync(texts)
    return time.perf_counter() - started, _process_cpu() - cpu


async def _bootstrap(
    stack: Stack,
    settings: ServiceSettings,
    path: Path,
    embedder: MiniLMEmbedder,
    chunk_size: int,
    profile: bool,
    drain_images: bool,
) -> dict[str, Any]:
    started = time.perf_counter()
    await provision(settings)
    provision_s = time.perf_counter() - started
    timers = CallTimers()
    progress: list[tuple[float, int]] = []
    marks: dict[str, _Snapshot] = {}

    def on_progress(done: int, total: int) -> None:
        if not progress:
            marks["indexing"] = _Snapshot.take(stack)  # chunks staged and enqueued
        if not progress or progress[-1][1] != done:
            progress.append((time.perf_counter(), done))

    purges = 0

    async def drain(stop: asyncio.Event) -> None:
        nonlocal purges
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), DRAIN_INTERVAL_S)
            await purge_queues(plain.aws, IMAGE_QUEUES)
            purges += 1

    async with open_indexer_ports(settings) as plain:
        ports = _instrument(plain, embedder, timers)
        profiler = cProfile.Profile() if profile else None
        stop = asyncio.Event()
        drainer = asyncio.create_task(drain(stop)) if drain_images else None
        marks["start"] = _Snapshot.take(stack)
        if profiler is not None:
            profiler.enable()  # the event loop's thread only
        try:
            report = await bootstrap(
                ports, str(path), executor="local", chunk_size=chunk_size, progress=on_progress
            )
        finally:
            if profiler is not None:
                profiler.disable()
            marks["end"] = _Snapshot.take(stack)
            stop.set()
            if drainer is not None:
                await drainer
        count = await plain.index.count()
    if count != report.entries:
        raise RuntimeError(f"the index holds {count} points after loading {report.entries} entries")
    if "indexing" not in marks:
        marks["indexing"] = marks["start"]
    profile_text = None
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        profile_text = out.getvalue()
    return {
        "provision_s": provision_s,
        "report": report,
        "total": _cpu_between(marks["start"], marks["end"]),
        "before_indexing": _cpu_between(marks["start"], marks["indexing"]),
        "indexing": _cpu_between(marks["indexing"], marks["end"]),
        "calls": {
            k: {"calls": s.calls, "busy_s": round(s.busy_s, 2), "summed_s": round(s.summed_s, 2)}
            for k, s in timers.spans.items()
        },
        "points": count,
        "profile": profile_text,
        "purges": purges,
    }


class _StepMeter:
    """Per-entry cost of each step run alone: wall time, this process's CPU, moto's CPU."""

    def __init__(self, stack: Stack, entries: int) -> None:
        self._stack = stack
        self._entries = entries
        self.rows: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def step(self, label: str, note: str = "") -> Iterator[None]:
        before = _Snapshot.take(self._stack)
        yield
        cost = _cpu_between(before, _Snapshot.take(self._stack))
        per = 1000 / self._entries
        self.rows.append(
            {
                "step": label,
                "note": note,
                "wall_ms": round(cost["wall_s"] * per, 2),
                "process_cpu_ms": round(cost["process_cpu_s"] * per, 2),
                "moto_cpu_ms": round(cost["moto_cpu_s"] * per, 2),
            }
        )


async def _step_costs(
    stack: Stack, settings: ServiceSettings, raws: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each step of indexing one entry, run alone on ``raws`` (sequentially, not overlapped)."""
    meter = _StepMeter(stack, len(raws))
    batch = settings.embedding_batch_size
    with meter.step("parse + validate the file (parse_enriched)"):
        body = json.dumps({"data": raws}, ensure_ascii=False).encode()
        parse_enriched(body, "sample")
    with meter.step("chunk JSON -> AnimeEntry (chunk handler)"):
        entries = [AnimeEntry.from_json_dict(d) for d in json.loads(json.dumps(raws, ensure_ascii=False))]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2 * len(entries), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with meter.step("texts, payload, point (documents.py)"):
        n = len(entries)
        [entry_texts(e) for e in entries]
        points = [build_point(e, vectors[i].tolist(), vectors[n + i].tolist()) for i, e in enumerate(entries)]
    async with open_indexer_ports(settings) as ports:
        index = await ports.ready_index()
        with meter.step("DynamoDB batch_put (entries)", f"batches of {batch}"):
            for i in range(0, len(entries), batch):
                await ports.entries.batch_put(entries[i : i + batch])
        with meter.step("vector upsert (Qdrant Edge, BM25)", f"batches of {batch}"):
            for i in range(0, len(points), batch):
                await index.upsert(points[i : i + batch])
        events = image_request_events(entries, "bench-steps")
        urls = sum(len(image_urls(e)) for e in entries)
        await purge_queues(ports.aws, IMAGE_QUEUES)  # the SNS step starts at queue depth 0
        with meter.step(
            "SNS image-requested (PublishBatch)", f"{len(events)} events, {urls} URLs, 10 events per call"
        ):
            await publish_all(ports, events)
        await purge_queues(ports.aws, IMAGE_QUEUES)
        with meter.step("S3 chunk staging (put + get)"):
            await ports.objects.put("staging/bench/steps.json", body, content_type="application/json")
            await ports.objects.get("staging/bench/steps.json")
    return meter.rows


def _torch_speedup(int8: MiniLMEmbedder, torch: MiniLMEmbedder, texts: list[str]) -> dict[str, float]:
    """Texts/s of both backends on ``texts``, in interleaved rounds."""
    torch.warm_up()
    torch.embed_sync(texts[:16])
    seconds = {"onnx-int8": 0.0, "torch": 0.0}
    step = -(-len(texts) // ROUNDS)
    for start in range(0, len(texts), step):
        part = texts[start : start + step]
        for name, embedder in (("onnx-int8", int8), ("torch", torch)):
            began = time.perf_counter()
            embedder.embed_sync(part)
            seconds[name] += time.perf_counter() - began
    rates = {name: len(texts) / s for name, s in seconds.items()}
    return {
        "texts": len(texts),
        "int8_texts_per_s": round(rates["onnx-int8"], 1),
        "torch_texts_per_s": round(rates["torch"], 1),
        "speedup": round(rates["onnx-int8"] / rates["torch"], 2),
    }


def run(
    n: int = 40_000,
    *,
    seed: int = 0,
    chunk_size: int = 500,
    torch_sample: int = 1000,
    step_sample: int = 500,
    drain_images: bool = True,
    profile: bool = False,
    baseline_stride: int = 1,
) -> dict[str, Any]:
    """Bootstrap ``n`` synthetic entries on a throwaway stack and compare with embedding alone.

    ``torch_sample`` entries (two texts each) are used for the int8-vs-torch comparison
    and ``step_sample`` entries for the cost of each step run alone (0 skips either);
    ``drain_images`` purges the image-request queues every second during the bootstrap
    (see IMAGE_QUEUES); ``profile`` runs cProfile on the event loop's thread during the bootstrap.
    ``baseline_stride`` > 1 measures embedding alone on every k-th embedder call only (the
    same texts, in the same batches, spread evenly over the file), so a 40,000-entry run
    does not spend an extra hour re-embedding everything; rates are per entry embedded.
    """
    model_root = load_settings(ServiceSettings).data_dir  # the shared ONNX cache, not the temp dir
    timings: dict[str, float] = {}
    with throwaway_stack() as stack:
        settings = stack.settings()
        configure_logging(settings)
        batch_size = settings.embedding_batch_size
        embedder = MiniLMEmbedder(model_root, backend="onnx-int8", batch_size=batch_size)
        started = time.perf_counter()
        if (active := embedder.warm_up()) != "onnx-int8":
            raise RuntimeError(f"the onnx-int8 backend fell back to {active}; see the log")
        timings["model_load_s"] = time.perf_counter() - started

        path = stack.root / "enriched.json"
        started = time.perf_counter()
        written = write_enriched_file(path, n, seed=seed)
        timings["write_file_s"] = time.perf_counter() - started
        started = time.perf_counter()
        work = pipeline_workload(n, seed=seed, chunk_size=chunk_size, batch_size=batch_size)
        timings["texts_s"] = time.perf_counter() - started
        for texts in work.calls[:2]:
            embedder.embed_sync(texts)  # warm-up: first-run allocations are not throughput

        # Baseline halves bracket the pipeline.
        half = len(work.calls) // 2
        picked = list(range(0, len(work.calls), baseline_stride))
        first_calls = [i for i in picked if i < half]
        second_calls = [i for i in picked if i >= half]
        first_s, first_cpu = _embed_calls(embedder, [work.calls[i] for i in first_calls])
        pipeline = asyncio.run(_bootstrap(stack, settings, path, embedder, chunk_size, profile, drain_images))
        second_s, second_cpu = _embed_calls(embedder, [work.calls[i] for i in second_calls])
        peak_rss = _peak_rss_mib()
        moto = proc_stats(stack.moto_pid())
        redis = proc_stats(stack.redis_pid())
        steps: list[dict[str, Any]] = []
        if step_sample > 0:
            raws = list(generate_entries(min(step_sample, n), seed=seed))
            steps = asyncio.run(_step_costs(stack, settings, raws))

    first_entries = sum(work.entries_per_call[i] for i in first_calls)
    second_entries = sum(work.entries_per_call[i] for i in second_calls)
    embedded = first_entries + second_entries
    embed_s = first_s + second_s
    embed_cpu = (first_cpu + second_cpu) * n / embedded  # the model's CPU for all n entries
    embed_rate = embedded / embed_s
    total, indexing = pipeline["total"], pipeline["indexing"]
    e2e_rate = n / total["wall_s"]
    indexing_rate = n / indexing["wall_s"] if indexing["wall_s"] > 0 else float("nan")

    speedup = None
    if torch_sample > 0:
        sample: list[str] = []
        for texts in work.calls:
            if len(sample) >= 2 * torch_sample:
                break
            sample.extend(texts)
        torch = MiniLMEmbedder(model_root, backend="torch", batch_size=batch_size)
        speedup = _torch_speedup(embedder, torch, sample)
        torch.close()
    embedder.close()

    report = pipeline["report"]
    return {
        "n": n,
        "seed": seed,
        "chunk_size": chunk_size,
        "batch_size": batch_size,
        "cpus": len(os.sched_getaffinity(0)),
        "file_mib": round(written.size_bytes / 2**20, 1),
        "texts": work.texts,
        "mean_chars_per_text": round(work.chars / work.texts, 1),
        "image_requests": work.images,
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "provision_s": round(pipeline["provision_s"], 2),
        "embedding": {
            "seconds": round(embed_s, 2),
            "entries_per_s": round(embed_rate, 1),
            "texts_per_s": round(work.texts * embedded / n / embed_s, 1),
            "before_entries_per_s": round(first_entries / first_s, 1) if first_s else None,
            "after_entries_per_s": round(second_entries / second_s, 1) if second_s else None,
            "entries_embedded": embedded,
            "cpu_s": round(embed_cpu, 1),
        },
        "pipeline": {
            "job_id": report.job_id,
            "chunks": report.chunks,
            "points": pipeline["points"],
            "total_s": round(total["wall_s"], 2),
            "before_indexing_s": round(pipeline["before_indexing"]["wall_s"], 2),
            "indexing_s": round(indexing["wall_s"], 2),
            "entries_per_s": round(e2e_rate, 1),
            "indexing_entries_per_s": round(indexing_rate, 1),
        },
        "ratio": round(e2e_rate / embed_rate, 3),
        "cpu_ratio": round(
            embed_cpu / (total["process_cpu_s"] + total["moto_cpu_s"] + total["redis_cpu_s"]), 3
        ),
        "indexing_ratio": round(indexing_rate / embed_rate, 3),
        "goal": GOAL,
        "cpu": {
            phase: {k: round(v, 1) for k, v in pipeline[phase].items()}
            for phase in ("total", "before_indexing", "indexing")
        },
        "calls": pipeline["calls"],
        "memory_mib": {
            "bench_process_peak": round(peak_rss, 0),
            "moto_peak": round(moto.peak_rss_mib, 0) if moto else None,
            "redis_peak": round(redis.peak_rss_mib, 0) if redis else None,
        },
        "int8_vs_torch": speedup,
        "image_queue_purges": pipeline["purges"] if drain_images else None,
        "steps": steps,
        "model_cpu_ms_per_entry": round(embed_cpu / n * 1000, 2),
        "profile": pipeline["profile"],
    }


# --------------------------------------------------------------------------- report


def print_report(result: dict[str, Any]) -> None:
    """Print what :func:`run` returned."""
    r = result
    emb, pipe, cpu, mem = r["embedding"], r["pipeline"], r["cpu"], r["memory_mib"]
    print(
        f"indexing: n={r['n']:,} entries (seed {r['seed']}), file {r['file_mib']} MiB, "
        f"{r['texts']:,} texts of {r['mean_chars_per_text']} chars on average, "
        f"{r['image_requests']:,} image requests; chunks of {r['chunk_size']}, "
        f"embedding batches of {r['batch_size']} entries; {r['cpus']} CPUs"
    )
    t = r["timings"]
    print(
        f"  setup: model load {t['model_load_s']} s, write file {t['write_file_s']} s, "
        f"provision {r['provision_s']} s"
    )
    print(
        f"  embedding alone (onnx-int8): {emb['entries_per_s']:8.1f} entries/s  "
        f"({emb['texts_per_s']:.1f} texts/s, {emb['seconds']} s for {emb['entries_embedded']:,} entries; "
        f"before {emb['before_entries_per_s']}, "
        f"after {emb['after_entries_per_s']} entries/s)"
    )
    print(
        f"  bootstrap end to end:        {pipe['entries_per_s']:8.1f} entries/s  "
        f"({pipe['total_s']} s: {pipe['before_indexing_s']} s validate/upload/stage/enqueue, "
        f"{pipe['indexing_s']} s indexing)"
    )
    print(f"  indexing phase alone:        {pipe['indexing_entries_per_s']:8.1f} entries/s")
    if r["image_queue_purges"] is not None:
        print(
            f"  (the image-request queue was purged {r['image_queue_purges']} times, every "
            f"{DRAIN_INTERVAL_S:g} s, standing in for an image ingestor that keeps up)"
        )
    verdict = "meets" if r["ratio"] >= r["goal"] else "MISSES"
    print(
        f"  ratio bootstrap / embedding: {r['ratio']:.3f} end to end, {r['indexing_ratio']:.3f} "
        f"indexing phase ({verdict} the goal >= {r['goal']}); CPU: the model's core-s / all core-s "
        f"the bootstrap used = {r['cpu_ratio']:.3f}"
    )
    print(
        f"  peak memory: bench process {mem['bench_process_peak']:.0f} MiB (before torch is loaded), "
        f"moto {mem['moto_peak']} MiB, redis {mem['redis_peak']} MiB"
    )
    if r["int8_vs_torch"]:
        s = r["int8_vs_torch"]
        print(
            f"  onnx-int8 vs torch on {s['texts']} of the same texts: {s['speedup']}x "
            f"({s['int8_texts_per_s']} vs {s['torch_texts_per_s']} texts/s)"
        )
    _print_cpu(r, cpu)
    if r["steps"]:
        _print_steps(r)
    print("  wall time with calls in flight (busy; summed over concurrent calls):")
    for name, c in sorted(r["calls"].items(), key=lambda kv: -kv[1]["busy_s"]):
        print(f"    {name:34} {c['busy_s']:9.1f} s busy {c['summed_s']:10.1f} s summed {c['calls']:9,} calls")
    if r.get("profile"):
        print("  cProfile of the event loop thread (top 30 by own time):")
        print(r["profile"])


def _print_steps(r: dict[str, Any]) -> None:
    emb = r["embedding"]
    print("  cost of each step run alone, per entry (sequential, not overlapped):")
    print(f"    {'step':44} {'wall ms':>9} {'process CPU ms':>15} {'moto CPU ms':>12}  note")
    model_wall = emb["seconds"] / r["n"] * 1000
    rows = [
        {
            "step": "embedding, 2 texts (the model, from the baseline)",
            "wall_ms": round(model_wall, 2),
            "process_cpu_ms": r["model_cpu_ms_per_entry"],
            "moto_cpu_ms": 0.0,
            "note": "",
        },
        *r["steps"],
    ]
    for row in rows:
        print(
            f"    {row['step'][:44]:44} {row['wall_ms']:9.2f} {row['process_cpu_ms']:15.2f} "
            f"{row['moto_cpu_ms']:12.2f}  {row['note']}"
        )
    current = [x for x in r["steps"] if not x["step"].startswith(" ")]
    extra = sum(x["process_cpu_ms"] + x["moto_cpu_ms"] for x in current)
    print(
        f"    everything but the model: {extra:.1f} core-ms per entry = "
        f"{extra / r['model_cpu_ms_per_entry']:.0%} of the model's {r['model_cpu_ms_per_entry']:.1f} core-ms"
    )


def _print_cpu(r: dict[str, Any], cpu: dict[str, dict[str, float]]) -> None:
    emb = r["embedding"]
    model_cpu = emb["cpu_s"]  # the model's CPU for all n entries, measured alone
    print("  CPU during the bootstrap (core-seconds):")
    header = f"    {'':44} {'total':>9} {'before idx':>11} {'indexing':>9}"
    print(header)
    rows = [
        ("wall time (s)", "wall_s"),
        ("this process, all threads", "process_cpu_s"),
        ("  event loop thread (Python)", "loop_cpu_s"),
        ("moto server (child process)", "moto_cpu_s"),
        ("redis-server", "redis_cpu_s"),
    ]
    for label, key in rows:
        values = [cpu[p][key] for p in ("total", "before_indexing", "indexing")]
        print(f"    {label:44} {values[0]:9.1f} {values[1]:11.1f} {values[2]:9.1f}")
    total = cpu["total"]
    capacity = r["cpus"] * total["wall_s"]
    others = max(0.0, total["process_cpu_s"] - total["loop_cpu_s"] - model_cpu)
    used = total["process_cpu_s"] + total["moto_cpu_s"] + total["redis_cpu_s"]
    print(
        f"    the model needs {model_cpu:.1f} core-s for these entries (measured alone); the rest of this "
        f"process's threads (vector upserts, BM25, file parse) ~{others:.1f} core-s by difference; "
        f"{used:.1f} of {capacity:.1f} core-s available were used"
    )


if __name__ == "__main__":
    print_report(run(int(sys.argv[1]) if len(sys.argv) > 1 else 40_000))
