"""The image ingestor's composition root: its queue consumer.

``handler_specs`` follows the registry contract of the all-in-one runner (see
``avs_cli.registry``); ``python -m avs_image_ingestor`` runs the same consumer in a
process of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from avs_image_ingestor.handlers import on_image_requested
from avs_image_ingestor.ports import IngestorPorts, ingestor_ports
from avs_shared.events import ImageRequested
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.spec import HandlerSpec, MessageContext
from avs_shared.topology import Q_IMAGE_REQUESTED

INGEST_HANDLER = "image-ingestor-image-requested"


def image_requested_spec(ports: IngestorPorts) -> HandlerSpec[ImageRequested]:
    async def handle(event: ImageRequested, ctx: MessageContext) -> Sequence[Any]:
        return await on_image_requested(event, ctx, ingestor=ports.ingestor)

    return HandlerSpec(
        INGEST_HANDLER,
        Q_IMAGE_REQUESTED,
        ImageRequested,
        handle,
        concurrency=ports.settings.worker_concurrency,
    )


def all_specs(ports: IngestorPorts) -> list[HandlerSpec[Any]]:
    return [image_requested_spec(ports)]


def handler_specs(ctx: RunContext) -> list[HandlerSpec[Any]]:
    return all_specs(ingestor_ports(ctx))
