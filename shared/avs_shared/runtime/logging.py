"""Structured logging for every process: structlog, with stdlib logging routed through it.

One line per record on stderr: JSON by default (``AVS_LOG_FORMAT=console`` for
people). Every record carries ``service``; inside an OpenTelemetry span it also
carries ``trace_id`` and ``span_id`` (hex, as in W3C trace context), so a log line
can be found from a trace and back.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

from avs_shared.settings import ServiceSettings

# Libraries that log every request at INFO; their warnings still come through.
_NOISY = ("botocore", "aiobotocore", "urllib3", "asyncio", "httpx", "httpcore")


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at emit time (pytest and click swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def add_trace_context(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """structlog processor: ``trace_id``/``span_id`` of the active span, if any."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event.setdefault("span_id", format(ctx.span_id, "016x"))
    return event


def _add_service(service: str) -> Processor:
    def add_service(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        event.setdefault("service", service)
        return event

    return add_service


def configure_logging(settings: ServiceSettings) -> None:
    """Configure structlog and the stdlib root logger from ``settings``.

    Idempotent: calling it again replaces the previous configuration (one handler,
    the latest service name, level and format).

    Parameters
    ----------
    settings:
        Uses ``service_name``, ``log_level`` and ``log_format`` (``json`` or ``console``).
    """
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(settings.service_name),
        add_trace_context,
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if settings.log_format == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    else:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached, so a second configure_logging() reaches loggers made at import time.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("avs")

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "avs"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
