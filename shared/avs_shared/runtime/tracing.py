"""OpenTelemetry tracing, configured by the standard ``OTEL_*`` environment variables.

Off unless asked for: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, or ``OTEL_TRACES_EXPORTER=otlp``
(``console`` prints spans to stderr, for debugging). ``OTEL_SDK_DISABLED=true``
wins over everything. Spans go out over OTLP/HTTP in batches; the exporter reads
its own endpoint, headers and timeout variables. ``service.name`` comes from
``OTEL_SERVICE_NAME`` or the argument.
"""

from __future__ import annotations

import logging
import os
import threading

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

log = logging.getLogger(__name__)

_lock = threading.Lock()
_provider: TracerProvider | None = None
_shut_down = False


def tracing_requested() -> str | None:
    """The exporter the environment asks for (``"otlp"`` or ``"console"``), or None for off."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporters = {e.strip().lower() for e in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if e}
    if "none" in exporters:
        return None
    if "otlp" in exporters:
        return "otlp"
    if "console" in exporters:
        return "console"
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return "otlp"
    return None


def configure_tracing(service_name: str) -> TracerProvider | None:
    """Install a global tracer provider if the environment asks for tracing.

    Idempotent: the first provider installed is returned by every later call. When
    tracing is off nothing is installed (the OpenTelemetry API stays a no-op) and
    None is returned. No network I/O happens here; spans are exported in the
    background by a :class:`BatchSpanProcessor`.

    Parameters
    ----------
    service_name:
        ``service.name`` of the resource, unless ``OTEL_SERVICE_NAME`` is set.
    """
    global _provider
    with _lock:
        if _provider is not None:
            return _provider
        kind = tracing_requested()
        if kind is None:
            return None
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        if kind == "otlp" and protocol != "http/protobuf":
            log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s is unsupported; using http/protobuf", protocol)
        name = os.environ.get("OTEL_SERVICE_NAME") or service_name
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
        provider.add_span_processor(BatchSpanProcessor(_exporter(kind)))
        trace.set_tracer_provider(provider)
        _provider = provider
        return provider


def shutdown_tracing() -> None:
    """Flush the spans still queued and stop the exporter (at process exit; safe when off)."""
    global _shut_down
    with _lock:
        if _provider is not None and not _shut_down:
            _provider.shutdown()
            _shut_down = True


def _exporter(kind: str) -> SpanExporter:
    if kind == "console":
        return ConsoleSpanExporter()
    # Imported here: the exporter pulls in protobuf and requests, which a process with
    # tracing off never needs.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()
