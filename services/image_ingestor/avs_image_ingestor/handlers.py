"""The image ingestor's message handler."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from avs_image_ingestor.ingest import ImageIngestor
from avs_shared.events import Envelope, ImageRequested
from avs_shared.runtime.spec import MessageContext

log = structlog.get_logger(__name__)


async def on_image_requested(
    event: ImageRequested, ctx: MessageContext, *, ingestor: ImageIngestor
) -> Sequence[Envelope]:
    """Re-host the images of one anime and point its entry (if committed) and its search
    payload at them.

    Idempotent: the runtime skips a redelivered event; a rerun after a crash finds the
    images it already stored in the dedup map, re-applies them to the entry and brings
    the search payload in line with the entry.
    """
    report = await ingestor.ingest(
        event, event_id=ctx.envelope.event_id, correlation_id=ctx.envelope.correlation_id
    )
    log.info(
        "images.resolved",
        anime_id=event.anime_id,
        urls=len(report.outcomes),
        stored=report.count("stored"),
        deduplicated=report.count("deduplicated"),
        reused=report.count("reused") + report.count("joined"),
        failed=report.count("failed"),
        skipped=report.count("skipped"),
        entry_version=report.entry_version,
        payload_updated=report.payload_updated,
    )
    return []
