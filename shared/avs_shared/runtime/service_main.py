"""The common ``python -m avs_<service>`` entry point of a queue-consuming service:
``run_service(program, SettingsClass, lambda s: serve_workers(s, open_ports, all_specs))``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

from avs_shared.adapters.aws import AwsClients
from avs_shared.errors import ConfigurationError
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.ports import IdempotencyStore, Publisher
from avs_shared.runtime.logging import configure_logging
from avs_shared.runtime.signals import stop_on_signals
from avs_shared.runtime.spec import HandlerSpec
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
from avs_shared.runtime.worker import Worker
from avs_shared.settings import ServiceSettings, load_settings

S = TypeVar("S", bound=ServiceSettings)
P = TypeVar("P", bound="WorkerPorts")


class WorkerPorts(Protocol):
    """What a worker needs from a service's ports."""

    @property
    def aws(self) -> AwsClients: ...
    @property
    def publisher(self) -> Publisher: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def claim_check(self) -> ClaimCheck: ...


async def serve_workers(
    settings: S,
    open_ports: Callable[[S], AbstractAsyncContextManager[P]],
    specs: Callable[[P], Sequence[HandlerSpec[Any]]],
) -> None:
    """Open the service's ports and run its handlers in one worker until SIGTERM/SIGINT."""
    stop = stop_on_signals()
    async with open_ports(settings) as ports:
        worker = Worker(
            list(specs(ports)),
            aws=ports.aws,
            settings=settings,
            publisher=ports.publisher,
            idempotency=ports.idempotency,
            claim_check=ports.claim_check,
        )
        await worker.run(stop)


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
