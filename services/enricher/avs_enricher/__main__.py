"""``python -m avs_enricher``: the enricher's queue consumers in a process of their own
(one container per service in the cloud)."""

from __future__ import annotations

from avs_enricher.bootstrap import all_specs
from avs_enricher.ports import open_enricher_ports
from avs_enricher.settings import EnricherSettings
from avs_shared.runtime.service_main import run_service, serve_workers


def main() -> None:
    run_service(
        "avs-enricher",
        EnricherSettings,
        lambda settings: serve_workers(settings, open_enricher_ports, all_specs),
    )


if __name__ == "__main__":
    main()
