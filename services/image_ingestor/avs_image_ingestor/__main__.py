"""``python -m avs_image_ingestor``: the image ingestor's queue consumer in a process of its own
(one container per service in the cloud)."""

from __future__ import annotations

from avs_image_ingestor.bootstrap import all_specs
from avs_image_ingestor.ports import open_ingestor_ports
from avs_image_ingestor.settings import ImageIngestorSettings
from avs_shared.runtime.service_main import run_service, serve_workers


def main() -> None:
    run_service(
        "avs-image-ingestor",
        ImageIngestorSettings,
        lambda settings: serve_workers(settings, open_ingestor_ports, all_specs),
    )


if __name__ == "__main__":
    main()
