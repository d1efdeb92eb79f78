"""Operator endpoints for dead-letter queues: ``/ops/dlq`` (list), ``/ops/dlq/{queue}`` (show),
``POST /ops/dlq/{queue}/replay``. They need an API key with the operator role.

The logic is :mod:`avs_shared.ops.dlq` and :mod:`avs_shared.ops.dlq_replay`, the same as
``avs dlq``. A replay over HTTP handles at most ``limit`` messages (1000 by default) so a
request stays short; the answer says how many remain, and calling again continues.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from avs_api.auth import Operator
from avs_api.deps import Resources
from avs_shared.ops import dlq
from avs_shared.ops.dlq_replay import Replayer
from avs_shared.ports.messaging import Publisher
from avs_shared.runtime import build_runtime

router = APIRouter(prefix="/ops/dlq", tags=["operations"])

QueueName = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9_-]{1,80}$",
        description="A dead-letter queue (`<queue>-dlq`) or `image-ingestion-failures`.",
    ),
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key, or not a valid one."},
    403: {"description": "The key does not have the operator role."},
    404: {"description": "Not a dead-letter or failure queue; the message lists the valid names."},
}


async def _publisher(request: Request, resources: Resources) -> Publisher:
    """The app's SNS publisher for re-published failure records, built on first use."""
    publisher: Publisher | None = getattr(request.app.state, "ops_publisher", None)
    if publisher is None:
        publisher, _, _ = await build_runtime(resources.aws, resources.settings)
        request.app.state.ops_publisher = publisher
    return publisher


@router.get("", responses=_ERRORS)
async def list_dead_letter_queues(_: Operator, resources: Resources) -> dict[str, Any]:
    """Every dead-letter queue and the image failure queue: depth, in flight, oldest age."""
    rows = await dlq.list_queues(resources.aws)
    return {"queues": [r.to_dict() for r in rows]}


@router.get("/{queue}", responses=_ERRORS)
async def show_dead_letters(
    queue: QueueName,
    _: Operator,
    resources: Resources,
    limit: Annotated[int, Query(ge=1, le=100, description="How many messages to show.")] = 10,
) -> dict[str, Any]:
    """Decoded messages of ``queue``: envelopes, error reasons, receive counts. They stay queued."""
    messages = await dlq.show(resources.aws, queue, limit=limit)
    return {"queue": queue, "messages": [m.to_dict() for m in messages]}


@router.post("/{queue}/replay", responses=_ERRORS)
async def replay_dead_letters(
    queue: QueueName,
    _: Operator,
    request: Request,
    resources: Resources,
    limit: Annotated[int, Query(ge=1, le=100_000, description="At most this many messages.")] = 1000,
    dry_run: Annotated[bool, Query(description="Count what would be replayed; change nothing.")] = False,
) -> dict[str, Any]:
    """Send the messages back: a DLQ to its source queue, ``image-ingestion-failures`` as
    ``image-requested`` events. Counts moved, skipped and failed; safe to repeat."""
    dlq.resolve_queue(queue)  # 404 before anything else
    publisher = await _publisher(request, resources)
    report = await Replayer(resources.aws, publisher).replay(queue, limit=limit, dry_run=dry_run)
    return report.to_dict()
