"""Run the benchmarks: ``python -m bench [names...] [--quick]`` (``make bench`` runs them all).

Each benchmark is a module of this package with ``run(**kwargs)``; if ``run`` returns a
result, the module's ``print_report(result)`` prints it (a benchmark whose ``run``
prints its own table returns None). ``--quick`` uses small sizes: a smoke run of every
benchmark in a couple of minutes, whose numbers are only indicative.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Benchmark:
    module: str
    full: dict[str, Any] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)
    about: str = ""


# name -> (module, run kwargs for a full run, run kwargs for --quick). Add new benchmarks here.
REGISTRY: dict[str, Benchmark] = {
    "indexing": Benchmark(
        "bench.indexing",
        full={"n": 40_000, "baseline_stride": 4},
        quick={"n": 400, "torch_sample": 64, "step_sample": 100},
        about="bootstrap end to end vs embedding alone, on a throwaway moto + redis stack",
    ),
    "embedding": Benchmark(
        "bench.embedding",
        full={"n": 2_000},
        quick={"n": 256},
        about="the text embedder's backends (torch, onnx, onnx-int8) side by side",
    ),
    "vector_index": Benchmark(
        "bench.vector_index",
        full={"n": 40_000},
        quick={"n": 2_000, "server_n": 1_000, "budget_s": 2.0},
        about="the Qdrant Edge and qdrant-client local-mode adapters: upserts and queries",
    ),
    "search_quality": Benchmark(
        "bench.search_quality",
        about="recall@10 and MRR of dense, BM25 and hybrid search on the labelled sample queries",
    ),
    "sync": Benchmark(
        "bench.sync",
        full={"n": 40_000},
        quick={"n": 2_000},
        about="the weekly sync (1 % new, 1 % removed, 2 % changed) vs one projected parallel scan",
    ),
    "images": Benchmark(
        "bench.images",
        full={"n": 2_000},
        quick={"n": 300},
        about="the image ingestor vs downloading alone, 16-way, from a loopback image server",
    ),
    "api": Benchmark(
        "bench.api",
        full={"n": 40_000},
        quick={
            "n": 2_000,
            "embedded": 100,
            "lookups": 200,
            "budget_s": 2.0,
            "local_budget_s": 3.0,
            "limits_budget_s": 1.5,
        },
        about="the API over HTTP (structured, hybrid, cached lookups) vs raw index and embedding limits",
    ),
}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def print_header(names: list[str], quick: bool) -> None:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print("=" * 100)
    print(f"anime-vector-service benchmarks ({'quick' if quick else 'full'}): {', '.join(names)}")
    print(f"date      {datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"machine   {_cpu_model()}, {usable} usable cores of {os.cpu_count()}, {_memory_gib()} RAM")
    print(f"load      {load} (1 / 5 / 15 min; other jobs skew absolute numbers, ratios less so)")
    print(f"python    {platform.python_version()} ({sys.executable}), {platform.platform()}")
    print("=" * 100)


def run_benchmark(name: str, quick: bool) -> tuple[float, Any]:
    """Run one benchmark and print its report; returns (seconds it took, its result)."""
    spec = REGISTRY[name]
    kwargs = spec.quick if quick else spec.full
    shown = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    print(f"\n--- {name}: {spec.about} ({shown})", flush=True)
    module = importlib.import_module(spec.module)
    started = time.perf_counter()
    result = module.run(**kwargs)
    if result is not None:
        module.print_report(result)
    seconds = time.perf_counter() - started
    print(f"--- {name} took {seconds:.0f} s", flush=True)
    return seconds, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="name", help=f"any of: {', '.join(REGISTRY)} (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few minutes")
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="also write the results to FILE ({name: result})"
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(REGISTRY)}")
    names = list(dict.fromkeys(args.names)) or list(REGISTRY)
    print_header(names, args.quick)
    took: dict[str, float] = {}
    results: dict[str, Any] = {}
    for name in names:
        took[name], results[name] = run_benchmark(name, args.quick)
        if args.json is not None:  # after each one, so a late failure keeps the earlier results
            args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print("\n" + ", ".join(f"{name} {s:.0f} s" for name, s in took.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
