"""``python -m avs_enricher``: the enricher's queue consumers in a process of their own
(one container per service in the cloud)."""

from __future__ import annotations

from avs_enricher.bootstrap import all_specs
from avs_enricher.ports import open_enricher_ports
from avs_enricher.settings import EnricherSettings
from avs_shared.runtime.service_main import run_service
from avs_shared.runtime.signals import stop_on_signals
from avs_shared.runtime.worker import Worker


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
    run_service("avs-enricher", EnricherSettings, serve)


if __name__ == "__main__":
    main()
