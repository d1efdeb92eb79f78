"""Benchmark: the image ingestor against downloading alone, from a loopback image server.

A request sequence of ``n`` image URLs is built: 30 % of the requests repeat a URL
requested earlier, and 10 % of the distinct URLs serve exactly the bytes of another
one (a second CDN with the same file). An image server in a child process serves them
(``image_kb`` KB JPEG-shaped bodies; each response can be delayed by ``latency_ms`` to
stand in for a CDN's round trip).

For each latency scenario, on a throwaway moto + redis stack:

1. **download only, first half** (the baseline): the ingestor's own :class:`Downloader`
   (address checks, streaming, size cap, type sniffing) fetches every request of the
   sequence, repeats included, ``concurrency`` at a time, and stores nothing;
2. **the ingestor**: the same requests as ``image-requested`` events of ``per_event``
   URLs (one per anime, as the indexer publishes them; ~5 images per anime) through
   :meth:`ImageIngestor.ingest`, ``concurrency`` events at a time with the downloader
   limited to ``concurrency`` downloads in flight: dedup-map lookup, single flight,
   download, S3 conditional PUT, map write, the entry check (the lookups, map writes and
   entry reads of concurrent events merged into batch calls); the map starts empty and
   no entry is committed (so no entry update and no search payload update);
3. **download only, second half**, so a change in machine load hits both sides.

It reports images/s of both, their **ratio** (goal >= 0.8), how often a URL already in
the map (or being downloaded) was downloaded again (goal 0), what the dedup saved, the
CPU per request of this process and of moto, and the AWS calls per request by
operation. The worker runtime's own per-message cost (SQS receive/delete, idempotency
claim) is not included: it is the same for every handler.

Scenarios: 0, 20 and 80 ms per image response. The loopback server stands in for the
public image hosts, which answer from across the internet (a CDN round trip from a cloud
region is tens of milliseconds), so 20 and 80 ms are the scenarios the goal is about. At
0 ms the baseline is bounded by nothing but CPU (~0.3 ms per 96 KB download), while
storing an image costs at least one S3 PUT: ~1 ms of botocore CPU in this process plus
~1.4 ms of moto's (the emulator, on the same 2 cores). With 30 % repeated URLs and 10 %
repeated bytes, ~0.63 PUTs per request alone cost more than two zero-latency downloads,
so no ingestor that writes to S3 through botocore can reach 0.8 of that baseline; the
0 ms row is printed as the stress case it is.

    python -m bench.images [n]
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from avs_image_ingestor.downloader import Downloader
from avs_image_ingestor.ingest import ImageIngestor
from avs_image_ingestor.ports import build_ingestor
from avs_image_ingestor.settings import ImageIngestorSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.embedded.processes import free_port, port_open
from avs_shared.events import ImageRequested, RequestedImage
from avs_shared.runtime.logging import configure_logging
from bench._stack import REPO, proc_stats, provision, throwaway_stack

GOAL = 0.8
# The stack's settings carried over to the ingestor's.
STACK_FIELDS = frozenset(
    {"service_name", "data_dir", "aws_region", "aws_endpoint_url", "redis_url", "log_level", "log_format"}
)


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True)
class Workload:
    """``requests``: URL index per request; ``body_of``: body index per distinct URL."""

    requests: list[int]
    body_of: list[int]

    @property
    def distinct(self) -> int:
        return len(self.body_of)


def make_workload(n: int, *, repeat_urls: float, repeat_bytes: float, seed: int) -> Workload:
    rng = random.Random(seed)
    requests: list[int] = []
    distinct = 0
    for _ in range(n):
        if requests and rng.random() < repeat_urls:
            requests.append(rng.choice(requests))
        else:
            requests.append(distinct)
            distinct += 1
    body_of = list(range(distinct))
    for url in rng.sample(range(1, distinct), int(distinct * repeat_bytes)) if distinct > 1 else []:
        body_of[url] = rng.randrange(url)  # the same bytes as an earlier URL
    return Workload(requests, body_of)


# --------------------------------------------------------------------------- image server


def serve(port: int, image_kb: int, scenarios: dict[str, tuple[float, int]]) -> None:
    """The image server (a child process): ``/<scenario>/<body>/<url>.jpg``, delayed by the
    scenario's latency; ``/_hits`` answers the request counts per path and resets them."""
    from aiohttp import web

    hits: Counter[str] = Counter()
    cache: dict[tuple[str, int], bytes] = {}

    def body(scenario: str, index: int) -> bytes:
        key = (scenario, index)
        if key not in cache:
            noise = random.Random(f"{scenario}-{index}-{scenarios[scenario][1]}").randbytes(image_kb * 1024)
            cache[key] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + noise + b"\xff\xd9"
        return cache[key]

    async def image(request: web.Request) -> web.Response:
        scenario = request.match_info["scenario"]
        hits[request.path] += 1
        latency = scenarios[scenario][0]
        if latency:
            await asyncio.sleep(latency / 1000)
        return web.Response(body=body(scenario, int(request.match_info["body"])), content_type="image/jpeg")

    async def stats(request: web.Request) -> web.Response:
        found = dict(hits)
        hits.clear()
        return web.json_response(found)

    app = web.Application()
    app.router.add_get("/_hits", stats)
    app.router.add_get("/{scenario}/{body}/{url}.jpg", image)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


class ImageServer:
    """The image server as a child process (``python -m bench.images --serve ...``)."""

    def __init__(self, image_kb: int, scenarios: dict[str, tuple[float, int]]) -> None:
        self.port = free_port()
        self._argv = [
            sys.executable,
            "-m",
            "bench.images",
            "--serve",
            str(self.port),
            str(image_kb),
            json.dumps(scenarios),
        ]
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, scenario: str, workload: Workload, url: int) -> str:
        return f"http://127.0.0.1:{self.port}/{scenario}/{workload.body_of[url]}/{url}.jpg"

    def __enter__(self) -> ImageServer:
        self._process = subprocess.Popen(self._argv, cwd=REPO)
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.__exit__()
                raise RuntimeError("the image server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)

    async def hits(self, aws_session: Any) -> Counter[str]:
        async with aws_session.get(f"http://127.0.0.1:{self.port}/_hits") as resp:
            return Counter(json.loads(await resp.text()))


# --------------------------------------------------------------------------- the runs


async def download_only(downloader: Downloader, urls: list[str], concurrency: int) -> float:
    """Images/s of fetching every URL (repeats too), ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str) -> None:
        async with gate:
            await downloader.fetch(url)

    started = time.perf_counter()
    await asyncio.gather(*(one(u) for u in urls))
    return len(urls) / (time.perf_counter() - started)


async def ingest_all(
    ingestor: ImageIngestor, urls: list[str], per_event: int, concurrency: int
) -> tuple[float, Counter[str]]:
    """Images/s of the requests as ``image-requested`` events of ``per_event`` URLs each (one
    per anime, as the indexer publishes them), ``concurrency`` events at a time; the
    downloader's own limit keeps ``concurrency`` downloads in flight. Also the count of
    each outcome."""
    gate = asyncio.Semaphore(concurrency)
    actions: Counter[str] = Counter()
    events = [urls[i : i + per_event] for i in range(0, len(urls), per_event)]

    async def one(n: int, event_urls: list[str]) -> None:
        async with gate:
            images = [RequestedImage(url=u, kind="cover") for u in event_urls]
            report = await ingestor.ingest(ImageRequested(anime_id=f"bench-{n}", images=images))
            actions.update(o.action for o in report.outcomes)
            actions["duplicate in the event"] += len(event_urls) - len(report.outcomes)

    started = time.perf_counter()
    await asyncio.gather(*(one(n, e) for n, e in enumerate(events)))
    return len(urls) / (time.perf_counter() - started), actions


class AwsCallCounter:
    """Counts the API calls of the clients of ``aws`` by operation (botocore ``before-call``)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.counting = False

    async def attach(self, aws: AwsClients, services: tuple[str, ...] = ("s3", "dynamodb", "sqs")) -> None:
        for service in services:
            client = await aws.client(service)
            client.meta.events.register("before-call", self._count)

    def _count(self, event_name: str, **_: Any) -> None:
        if self.counting:
            self.calls[event_name.rsplit(".", 1)[-1]] += 1


async def scenario(
    name: str,
    server: ImageServer,
    workload: Workload,
    settings: ImageIngestorSettings,
    concurrency: int,
    per_event: int,
    moto_pid: int | None,
) -> dict[str, Any]:
    import aiohttp

    def cpu() -> tuple[float, float]:
        """CPU seconds so far of this process and of moto."""
        own = resource.getrusage(resource.RUSAGE_SELF)
        moto = proc_stats(moto_pid)
        return own.ru_utime + own.ru_stime, moto.cpu_s if moto else 0.0

    urls = [server.url(name, workload, u) for u in workload.requests]
    counter = AwsCallCounter()
    async with AwsClients(settings) as aws, aiohttp.ClientSession() as http:
        baseline = Downloader(settings)
        ingestor = build_ingestor(settings, aws, cache=None)
        await counter.attach(aws)
        try:
            await download_only(baseline, urls[: concurrency * 2], concurrency)  # warm-up
            await server.hits(http)
            cpu0 = cpu()
            first = await download_only(baseline, urls, concurrency)
            cpu1 = cpu()
            await server.hits(http)
            counter.counting = True
            rate, actions = await ingest_all(ingestor, urls, per_event, concurrency)
            counter.counting = False
            cpu2 = cpu()
            hits = await server.hits(http)
            second = await download_only(baseline, urls, concurrency)
        finally:
            await baseline.close()
            await ingestor.downloader.close()
    repeated = sum(count - 1 for count in hits.values() if count > 1)
    base = (first + second) / 2
    return {
        "scenario": name,
        "requests": len(urls),
        "distinct_urls": workload.distinct,
        "distinct_bodies": len(set(workload.body_of)),
        "baseline_first_per_s": round(first, 1),
        "baseline_second_per_s": round(second, 1),
        "baseline_per_s": round(base, 1),
        "ingestor_per_s": round(rate, 1),
        "ratio": round(rate / base, 3),
        "downloads": sum(hits.values()),
        "repeated_downloads_of_known_urls": repeated,
        "actions": dict(actions),
        # CPU ms per request: this process (the client side) and moto (the AWS side).
        "baseline_cpu_ms": round((cpu1[0] - cpu0[0]) / len(urls) * 1000, 2),
        "ingestor_cpu_ms": round((cpu2[0] - cpu1[0]) / len(urls) * 1000, 2),
        "ingestor_moto_cpu_ms": round((cpu2[1] - cpu1[1]) / len(urls) * 1000, 2),
        # AWS API calls of the ingestor phase, by operation.
        "aws_calls": dict(counter.calls.most_common()),
    }


def run(
    n: int = 2000,
    *,
    concurrency: int = 16,
    per_event: int = 5,
    repeat_urls: float = 0.3,
    repeat_bytes: float = 0.1,
    image_kb: int = 96,
    latencies_ms: tuple[float, ...] = (0.0, 20.0, 80.0),
    seed: int = 0,
) -> dict[str, Any]:
    """Compare the ingestor with downloading alone for each latency (see the module docstring)."""
    workload = make_workload(n, repeat_urls=repeat_urls, repeat_bytes=repeat_bytes, seed=seed)
    scenarios = {f"s{i}": (latency, seed + i) for i, latency in enumerate(latencies_ms)}
    results: list[dict[str, Any]] = []
    with throwaway_stack(prefix="avs-bench-images-") as stack, ImageServer(image_kb, scenarios) as server:
        base = stack.settings()
        settings = ImageIngestorSettings(
            **{k: v for k, v in base.model_dump().items() if k in STACK_FIELDS},
            image_allowed_networks=["127.0.0.0/8"],
            image_global_concurrency=concurrency,  # downloads in flight, as in the baseline
            image_per_host_concurrency=concurrency,  # one loopback host stands for many CDNs
        )
        configure_logging(settings)
        asyncio.run(provision(settings))
        for name, (latency, _) in scenarios.items():
            result = asyncio.run(
                scenario(name, server, workload, settings, concurrency, per_event, stack.moto_pid())
            )
            result["latency_ms"] = latency
            results.append(result)
    return {
        "n": n,
        "concurrency": concurrency,
        "per_event": per_event,
        "repeat_urls": repeat_urls,
        "repeat_bytes": repeat_bytes,
        "image_kb": image_kb,
        "scenarios": results,
    }


def print_report(result: dict[str, Any]) -> None:
    r = result
    print(
        f"{r['n']} image requests ({r['per_event']} per event), {r['concurrency']} downloads at once, "
        f"{r['repeat_urls']:.0%} repeated URLs, "
        f"{r['repeat_bytes']:.0%} of distinct URLs with repeated bytes, {r['image_kb']} KB images"
    )
    print(
        f"{'latency':>8} {'download only/s':>16} {'(halves)':>16} {'ingestor/s':>11} {'ratio':>6} "
        f"{'goal':>5} {'downloads':>10} {'repeated known':>15}"
    )
    for s in result["scenarios"]:
        halves = f"{s['baseline_first_per_s']:.0f} / {s['baseline_second_per_s']:.0f}"
        verdict = "ok" if s["ratio"] >= GOAL else "MISS"
        repeated = s["repeated_downloads_of_known_urls"]
        print(
            f"{s['latency_ms']:>6.0f}ms {s['baseline_per_s']:>16.1f} {halves:>16} "
            f"{s['ingestor_per_s']:>11.1f} {s['ratio']:>6.2f} {verdict:>5} "
            f"{s['downloads']:>10} {repeated:>15}"
        )
    for s in result["scenarios"]:
        actions = ", ".join(f"{k} {v}" for k, v in sorted(s["actions"].items()))
        print(
            f"  {s['latency_ms']:.0f} ms: {s['requests']} requests, {s['distinct_urls']} distinct URLs, "
            f"{s['distinct_bodies']} distinct bodies -> {actions}"
        )
        print(
            f"      CPU ms per request: download only {s['baseline_cpu_ms']:.2f}; ingestor "
            f"{s['ingestor_cpu_ms']:.2f} here + {s['ingestor_moto_cpu_ms']:.2f} in moto"
        )
        calls = s["aws_calls"]
        by_operation = ", ".join(f"{op} {n / s['requests']:.2f}" for op, n in calls.items())
        print(f"      AWS calls per request: {sum(calls.values()) / s['requests']:.2f} ({by_operation})")
    print(f"goal: ingestor >= {GOAL} x download only, and 0 repeated downloads of known URLs")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), int(sys.argv[3]), {k: tuple(v) for k, v in json.loads(sys.argv[4]).items()})
    else:
        print_report(run(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
