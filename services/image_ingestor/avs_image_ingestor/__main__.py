"""``python -m avs_image_ingestor``: the image ingestor's queue consumer in a process of its own
(one container per service in the cloud)."""

from __future__ import annotations

from avs_image_ingestor.bootstrap import all_specs
from avs_image_ingestor.ports import open_ingestor_ports
from avs_image_ingestor.settings import ImageIngestorSettings
from avs_shared.runtime.service_main import run_service
from avs_shared.runtime.signals import stop_on_signals
from avs_shared.runtime.worker import Worker


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
    run_service("avs-image-ingestor", ImageIngestorSettings, serve)


if __name__ == "__main__":
    main()
