"""``python -m avs_image_ingestor``: the image ingestor's queue consumer in a process of its own
(one container per service in the cloud)."""

from __future__ import annotations

import asyncio
import sys

from avs_image_ingestor.bootstrap import all_specs
from avs_image_ingestor.ports import open_ingestor_ports
from avs_image_ingestor.settings import ImageIngestorSettings
from avs_shared.errors import ConfigurationError
from avs_shared.runtime.logging import configure_logging
from avs_shared.runtime.signals import stop_on_signals
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
from avs_shared.runtime.worker import Worker
from avs_shared.settings import load_settings


async def serve(settings: ImageIngestorSettings) -> None:
    stop = stop_on_signals()
    async with open_ingestor_ports(settings) as ports:
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
        settings = load_settings(ImageIngestorSettings)
    except ConfigurationError as exc:
        print(f"avs-image-ingestor: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    configure_logging(settings)
    configure_tracing(settings.service_name)
    try:
        asyncio.run(serve(settings))
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
