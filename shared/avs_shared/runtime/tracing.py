"""OpenTelemetry traces, metrics and logs, configured by the standard ``OTEL_*`` variables.

Each signal is off unless asked for: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the
signal's own ``OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT``) set, or
``OTEL_{TRACES,METRICS,LOGS}_EXPORTER=otlp`` (``console`` prints to stderr, for
debugging; ``none`` turns one signal off). ``OTEL_SDK_DISABLED=true`` wins over
everything. Everything goes out over OTLP/HTTP in batches (metrics every
``OTEL_METRIC_EXPORT_INTERVAL`` ms); the exporters read their own endpoint, headers
and timeout variables. ``service.name`` comes from ``OTEL_SERVICE_NAME`` or the
argument. The metrics themselves are in :mod:`avs_shared.runtime.metrics`.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING

import structlog
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LoggerProvider

log = logging.getLogger(__name__)

_lock = threading.Lock()
_provider: TracerProvider | None = None
_meter_provider: MeterProvider | None = None
_logger_provider: LoggerProvider | None = None
_warned_protocol = False
_shut_down = False


def signal_requested(signal: str) -> str | None:
    """The exporter the environment asks for one signal (``traces``, ``metrics`` or
    ``logs``): ``"otlp"``, ``"console"``, or None for off."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    # Literal names (not built with f-strings), so a reader of the code finds them all.
    chosen, endpoint = {
        "traces": (
            os.environ.get("OTEL_TRACES_EXPORTER"),
            os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        ),
        "metrics": (
            os.environ.get("OTEL_METRICS_EXPORTER"),
            os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
        ),
        "logs": (
            os.environ.get("OTEL_LOGS_EXPORTER"),
            os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"),
        ),
    }[signal]
    exporters = {e.strip().lower() for e in (chosen or "").split(",") if e}
    if "none" in exporters:
        return None
    if "otlp" in exporters:
        return "otlp"
    if "console" in exporters:
        return "console"
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or endpoint:
        return "otlp"
    return None


def tracing_requested() -> str | None:
    """The trace exporter the environment asks for (``"otlp"`` or ``"console"``), or None for off."""
    return signal_requested("traces")


def configure_tracing(service_name: str) -> TracerProvider | None:
    """Install the global tracer, meter and logger providers the environment asks for.

    Idempotent: the first tracer provider installed is returned by every later call.
    A signal that is off installs nothing (the OpenTelemetry API stays a no-op);
    None is returned when tracing is off. No network I/O happens here; everything is
    exported in the background. Logs go out through a handler on the root logger, so
    every structlog and stdlib record of the process is exported with its trace id.

    Parameters
    ----------
    service_name:
        ``service.name`` of the resource, unless ``OTEL_SERVICE_NAME`` is set.
    """
    global _provider
    with _lock:
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        wanted = [signal_requested(signal) for signal in ("traces", "metrics", "logs")]
        if protocol != "http/protobuf" and "otlp" in wanted and not _warned_protocol:
            _warn_protocol(protocol)
        resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service_name})
        if _meter_provider is None:
            _configure_metrics(resource)
        if _logger_provider is None:
            _configure_logs(resource)
        if _provider is not None:
            return _provider
        kind = tracing_requested()
        if kind is None:
            return None
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(_exporter(kind)))
        trace.set_tracer_provider(provider)
        _provider = provider
        return provider


def _warn_protocol(protocol: str) -> None:
    global _warned_protocol
    _warned_protocol = True
    log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s is unsupported; using http/protobuf", protocol)


def _configure_metrics(resource: Resource) -> None:
    global _meter_provider
    kind = signal_requested("metrics")
    if kind is None:
        return
    exporter: MetricExporter
    if kind == "console":
        exporter = ConsoleMetricExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter()
    reader = PeriodicExportingMetricReader(exporter)
    _meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    metrics.set_meter_provider(_meter_provider)


def _configure_logs(resource: Resource) -> None:
    global _logger_provider
    kind = signal_requested("logs")
    if kind is None:
        return
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogExporter

    _logger_provider = LoggerProvider(resource=resource)
    if kind == "console":
        _logger_provider.add_log_record_processor(BatchLogRecordProcessor(ConsoleLogExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        _logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    handler = LoggingHandler(logger_provider=_logger_provider)
    # structlog hands the handler an event dict: render it as the JSON line stderr gets.
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ]
        )
    )
    handler.set_name("avs-otlp")
    logging.getLogger().addHandler(handler)


def shutdown_tracing() -> None:
    """Flush the spans, metrics and logs still queued and stop the exporters (at process
    exit; safe when off)."""
    global _shut_down
    with _lock:
        if _shut_down:
            return
        _shut_down = True
        for provider in (_provider, _meter_provider, _logger_provider):
            if provider is not None:
                provider.shutdown()


def _exporter(kind: str) -> SpanExporter:
    if kind == "console":
        return ConsoleSpanExporter()
    # Imported here: the exporter pulls in protobuf and requests, which a process with
    # tracing off never needs.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()
