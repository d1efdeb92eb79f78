"""``python -m avs_enricher``: the enricher's queue consumers in a process of their own
(one container per service in the cloud)."""

from __future__ import annotations

import asyncio
import sys

from avs_enricher.bootstrap import all_specs
from avs_enricher.ports import open_enricher_ports
from avs_enricher.settings import EnricherSettings
from avs_shared.errors import ConfigurationError
from avs_shared.runtime.logging import configure_logging
from avs_shared.runtime.signals import stop_on_signals
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
from avs_shared.runtime.worker import Worker
from avs_shared.settings import load_settings


async def serve(settings: EnricherSettings) -> None:
    stop = stop_on_signals()
    async with open_enricher_ports(settings) as ports:
        worker = Worker(
            all_specs(ports),
            aws=ports.aws,
            settings=settings,
            publisher=ports.publisher,
            idempotency=ports.idempotency,
            claim_check=ports.claim_check,
        )
        await worker.run(stop)


def main() -> None:
    try:
        settings = load_settings(EnricherSettings)
    except ConfigurationError as exc:
        print(f"avs-enricher: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    configure_logging(settings)
    configure_tracing(settings.service_name)
    try:
        asyncio.run(serve(settings))
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
