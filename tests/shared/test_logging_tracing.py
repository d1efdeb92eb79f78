"""Structured logging (structlog + stdlib) and OpenTelemetry tracing configuration."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from avs_shared.runtime.logging import configure_logging
from avs_shared.runtime.tracing import configure_tracing, tracing_requested
from avs_shared.settings import ServiceSettings


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_json_records_carry_service_and_stdlib_goes_through_structlog(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(ServiceSettings(service_name="avs-test", log_format="json"))

    structlog.get_logger("avs.test").info("structured event", anime_id="a-1")
    logging.getLogger("some.library").warning("plain %s message", "stdlib")

    records = json_lines(capsys.readouterr().err)
    assert [r["event"] for r in records] == ["structured event", "plain stdlib message"]
    assert all(r["service"] == "avs-test" for r in records)
    assert records[0]["anime_id"] == "a-1" and records[0]["level"] == "info"
    assert records[1]["logger"] == "some.library" and records[1]["level"] == "warning"
    assert all("trace_id" not in r for r in records)  # no span active


def test_records_inside_a_span_carry_its_trace_and_span_ids(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(ServiceSettings(service_name="avs-test", log_format="json"))
    tracer = TracerProvider().get_tracer("test")  # not installed globally

    with tracer.start_as_current_span("handle") as span:
        structlog.get_logger().info("inside")
        logging.getLogger("lib").error("also inside")
        ctx = span.get_span_context()

    records = json_lines(capsys.readouterr().err)
    assert len(records) == 2
    for record in records:
        assert record["trace_id"] == format(ctx.trace_id, "032x")
        assert record["span_id"] == format(ctx.span_id, "016x")


def test_configure_logging_is_idempotent_and_applies_the_latest_settings(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(ServiceSettings(service_name="first"))
    configure_logging(ServiceSettings(service_name="second", log_level="WARNING"))

    assert len([h for h in logging.getLogger().handlers if h.get_name() == "avs"]) == 1
    structlog.get_logger().info("filtered out")
    structlog.get_logger().warning("kept")
    records = json_lines(capsys.readouterr().err)
    assert [(r["event"], r["service"]) for r in records] == [("kept", "second")]


def test_console_format_is_not_json(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(ServiceSettings(service_name="avs-test", log_format="console"))
    structlog.get_logger().info("for people", n=1)
    err = capsys.readouterr().err
    assert "for people" in err and "n=1" in err and not err.lstrip().startswith("{")


def test_exceptions_are_rendered_in_json(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(ServiceSettings(service_name="avs-test"))
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("lib").exception("failed")
    (record,) = json_lines(capsys.readouterr().err)
    assert "ValueError: boom" in str(record["exception"])


# --------------------------------------------------------------------------- tracing
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, None),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ],
)
def test_tracing_is_off_unless_the_environment_asks(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str | None
) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert tracing_requested() == expected


def test_configure_tracing_returns_none_when_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    assert configure_tracing("avs-test") is None


_ENABLED_PROBE = """
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
first = configure_tracing("from-argument")
second = configure_tracing("ignored")
assert first is not None and first is second, "configure_tracing must be idempotent"
assert trace.get_tracer_provider() is first
processor = first._active_span_processor._span_processors[0]
assert type(processor).__name__ == "BatchSpanProcessor", processor
assert isinstance(processor._batch_processor._exporter, OTLPSpanExporter)
print(first.resource.attributes["service.name"])
shutdown_tracing()
"""


@pytest.mark.parametrize(("service_env", "expected"), [(None, "from-argument"), ("from-env", "from-env")])
def test_an_otlp_endpoint_turns_on_batched_otlp_export_with_the_service_name(
    service_env: str | None, expected: str
) -> None:
    # A subprocess: the global tracer provider can be set only once per process.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens; nothing is exported
    if service_env:
        env["OTEL_SERVICE_NAME"] = service_env
    out = subprocess.run(
        [sys.executable, "-c", _ENABLED_PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected
