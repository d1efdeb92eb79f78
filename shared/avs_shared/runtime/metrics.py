"""The service metrics, recorded through the OpenTelemetry metrics API.

Instruments are created once, from the global meter provider; until
:func:`avs_shared.runtime.tracing.configure_tracing` installs a real provider
(only when the environment asks for metrics) they are the API's no-ops, so
recording costs next to nothing. Names follow ``avs.<area>.<what>``:

``avs.messages.processed`` (counter; ``handler``, ``queue``, ``outcome``)
    every message a worker finished, whatever the outcome;
``avs.messages.failed`` (counter; ``handler``, ``queue``, ``outcome``)
    the subset that failed, was dead-lettered or will be retried;
``avs.handler.duration`` (histogram, s; ``handler``, ``outcome``)
    receive-to-outcome time of one message;
``avs.queue.lag`` (histogram, s; ``queue``)
    how long a message waited in its queue (now - SQS ``SentTimestamp``);
``avs.cache.requests`` (counter; ``cache``, ``result`` = hit | miss | error)
    the hit ratio is hit / (hit + miss);
``avs.provider.calls`` (counter; ``provider``, ``status``)
    outgoing calls to public anime APIs (status code, or ``timeout``/``error``);
``avs.provider.throttles`` (counter; ``provider``, ``source`` = local | upstream)
    calls delayed by our rate limiter (local) or answered 429 (upstream).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry import metrics

_FAILED = frozenset({"failed", "dead_lettered", "retry"})
_provider: metrics.MeterProvider | None = None


@dataclass(frozen=True)
class _Instruments:
    processed: metrics.Counter
    failed: metrics.Counter
    duration: metrics.Histogram
    lag: metrics.Histogram
    cache: metrics.Counter
    provider_calls: metrics.Counter
    throttles: metrics.Counter


@functools.cache
def _instruments() -> _Instruments:
    meter = metrics.get_meter("avs", meter_provider=_provider)
    return _Instruments(
        processed=meter.create_counter("avs.messages.processed", unit="{message}"),
        failed=meter.create_counter("avs.messages.failed", unit="{message}"),
        duration=meter.create_histogram("avs.handler.duration", unit="s"),
        lag=meter.create_histogram("avs.queue.lag", unit="s"),
        cache=meter.create_counter("avs.cache.requests", unit="{request}"),
        provider_calls=meter.create_counter("avs.provider.calls", unit="{call}"),
        throttles=meter.create_counter("avs.provider.throttles", unit="{call}"),
    )


def use_meter_provider(provider: metrics.MeterProvider | None) -> None:
    """Record into ``provider`` from now on (None: the global one). For tests, which
    cannot replace the global provider once set."""
    global _provider
    _provider = provider
    _instruments.cache_clear()


def record_message(handler: str, queue: str, outcome: str, duration_s: float) -> None:
    """One message finished by a worker."""
    m = _instruments()
    attrs = {"handler": handler, "queue": queue, "outcome": outcome}
    m.processed.add(1, attrs)
    if outcome in _FAILED:
        m.failed.add(1, attrs)
    m.duration.record(duration_s, {"handler": handler, "outcome": outcome})


def record_queue_lag(queue: str, message_attributes: Mapping[str, object] | None) -> None:
    """Time in queue from the SQS ``SentTimestamp`` attribute (ms since the epoch), if present."""
    if not message_attributes:
        return
    sent = message_attributes.get("SentTimestamp")
    try:
        sent_s = int(str(sent)) / 1000.0
    except (TypeError, ValueError):
        return
    _instruments().lag.record(max(time.time() - sent_s, 0.0), {"queue": queue})


def record_cache(cache: str, result: str) -> None:
    """A cache lookup: ``hit``, ``miss`` or ``error``."""
    _instruments().cache.add(1, {"cache": cache, "result": result})


def record_provider_call(provider: str, status: int | str) -> None:
    """An outgoing call to a public API, by status code or ``timeout``/``error``."""
    _instruments().provider_calls.add(1, {"provider": provider, "status": str(status)})


def record_throttle(provider: str, source: str) -> None:
    """A call held back by our limiter (``local``) or refused with 429 (``upstream``)."""
    _instruments().throttles.add(1, {"provider": provider, "source": source})
