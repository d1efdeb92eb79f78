"""Service metrics: what the worker and the cache record, and how the exporters switch on."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from avs_runtime_testkit import Kit, anime_new, eventually, spec
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.embedded.processes import RedisServer, free_port
from avs_shared.errors import Permanent
from avs_shared.events.envelope import Envelope
from avs_shared.events.types import AnimeNew
from avs_shared.runtime import MessageContext
from avs_shared.runtime.metrics import record_provider_call, record_throttle, use_meter_provider
from avs_shared.topology import Q_ENRICHER_ANIME_NEW

NAME = "test-enricher"


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    use_meter_provider(MeterProvider(metric_readers=[reader]))
    yield reader
    use_meter_provider(None)


def points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict[str, Any], Any]]:
    """(attributes, data point) of metric ``name``."""
    data = reader.get_metrics_data()
    found: list[tuple[dict[str, Any], Any]] = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    found += [(dict(p.attributes or {}), p) for p in metric.data.data_points]
    return found


def counts(reader: InMemoryMetricReader, name: str, *keys: str) -> dict[tuple[Any, ...], int]:
    return {tuple(a[k] for k in keys): p.value for a, p in points(reader, name)}


async def test_the_worker_records_processed_failed_latency_and_queue_lag(
    kit: Kit, reader: InMemoryMetricReader
) -> None:
    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        if evt.offline_record.get("fail"):
            raise Permanent("no provider knows this anime")
        return []

    for fail in (False, False, True):
        await kit.send(anime_new(fail=fail).envelope())
    worker = kit.worker(spec(handle))
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].processed == 2 and worker.stats[NAME].dead_lettered == 1)

    processed = counts(reader, "avs.messages.processed", "handler", "queue", "outcome")
    assert processed == {
        (NAME, Q_ENRICHER_ANIME_NEW, "processed"): 2,
        (NAME, Q_ENRICHER_ANIME_NEW, "dead_lettered"): 1,
    }
    failed = counts(reader, "avs.messages.failed", "handler", "outcome")
    assert failed == {(NAME, "dead_lettered"): 1}
    durations = {a["outcome"]: p for a, p in points(reader, "avs.handler.duration")}
    assert durations["processed"].count == 2 and durations["processed"].sum > 0
    ((lag_attrs, lag),) = points(reader, "avs.queue.lag")
    assert lag_attrs == {"queue": Q_ENRICHER_ANIME_NEW}
    assert lag.count == 3 and 0 <= lag.min and lag.max < 120


async def test_the_cache_records_hits_misses_and_errors(
    redis_server: RedisServer, reader: InMemoryMetricReader
) -> None:
    cache = RedisCache(redis_server.url, key_prefix=f"test-{uuid.uuid4().hex[:8]}:")
    down = RedisCache(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)
    try:
        assert await cache.get("anime:1") is None
        await cache.set("anime:1", b"x", ttl_s=60)
        assert await cache.get("anime:1") == b"x"
        assert await cache.get("anime:1") == b"x"
        assert await cache.get("response:/popular") is None
        assert await down.get("anime:2") is None
    finally:
        await cache.close()
        await down.close()
    assert counts(reader, "avs.cache.requests", "cache", "result") == {
        ("anime", "miss"): 1,
        ("anime", "hit"): 2,
        ("response", "miss"): 1,
        ("anime", "error"): 1,
    }


def test_provider_calls_and_throttles_are_counted(reader: InMemoryMetricReader) -> None:
    record_provider_call("jikan", 200)
    record_provider_call("jikan", 429)
    record_throttle("jikan", "upstream")
    record_throttle("anilist", "local")
    assert counts(reader, "avs.provider.calls", "provider", "status") == {
        ("jikan", "200"): 1,
        ("jikan", "429"): 1,
    }
    assert counts(reader, "avs.provider.throttles", "provider", "source") == {
        ("jikan", "upstream"): 1,
        ("anilist", "local"): 1,
    }


_PROBE = """
import logging
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
configure_tracing("avs-probe")
configure_tracing("avs-probe")
handlers = [h.get_name() for h in logging.getLogger().handlers]
print(isinstance(trace.get_tracer_provider(), TracerProvider),
      isinstance(metrics.get_meter_provider(), MeterProvider),
      handlers.count("avs-otlp"))
shutdown_tracing()
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, "True True 1"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_METRICS_EXPORTER": "none"},
            "True False 1",
        ),
        ({"OTEL_LOGS_EXPORTER": "otlp"}, "False False 1"),
        ({"OTEL_METRICS_EXPORTER": "console", "OTEL_TRACES_EXPORTER": "none"}, "False True 0"),
        ({}, "False False 0"),
    ],
)
def test_each_signal_is_switched_on_by_the_environment(extra: dict[str, str], expected: str) -> None:
    # A subprocess: global providers can be set only once per process.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(extra)
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected
