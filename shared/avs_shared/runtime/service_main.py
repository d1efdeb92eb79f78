"""The common ``python -m avs_<service>`` entry point of a queue-consuming service."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from avs_shared.errors import ConfigurationError
from avs_shared.runtime.logging import configure_logging
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
from avs_shared.settings import ServiceSettings, load_settings

S = TypeVar("S", bound=ServiceSettings)


def run_service(program: str, settings_cls: type[S], serve: Callable[[S], Coroutine[Any, Any, None]]) -> None:
    """Load ``settings_cls`` from the environment (bad settings: the message and exit 2),
    configure logging and telemetry, and run ``serve`` until it returns (on SIGTERM)."""
    try:
        settings = load_settings(settings_cls)
    except ConfigurationError as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    configure_logging(settings)
    configure_tracing(settings.service_name)
    try:
        asyncio.run(serve(settings))
    finally:
        shutdown_tracing()
