"""Review requests straight onto the ``review-requests`` SQS queue.

The sync's findings (status changed, missing episodes, merge, split) need a person but
no Step Functions execution: they travel as :class:`~avs_shared.events.ReviewRequest`
envelopes in the message body (the shape the review intake reads), without a task
token. Event ids are deterministic (see :func:`review_envelope`), so a re-run sends
the same ids and the intake deduplicates them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import structlog

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.sns import message_attributes
from avs_shared.errors import Retryable
from avs_shared.events import Envelope, ReviewKind, ReviewRequest, derive_event_id
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.topology import Q_REVIEW_REQUESTS

log = structlog.get_logger(__name__)

_BATCH = 10
_BATCH_BYTES = 240_000


def review_envelope(request: ReviewRequest, *, fingerprint: dict[str, Any]) -> Envelope:
    """The envelope of ``request``; its id depends on the anime, the kind and ``fingerprint``.

    ``fingerprint`` holds the values the finding is about (offline and ours): the same
    unresolved finding gets the same id every week, a new value a new one.
    """
    digest = hashlib.sha256(
        json.dumps(fingerprint, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
    event_id = derive_event_id("sync-review", str(request.kind), request.anime_id, digest)
    return request.envelope(event_id=event_id)


class ReviewQueue:
    """Sends review-request envelopes to the queue (``SendMessageBatch``, claim check applied)."""

    def __init__(self, aws: AwsClients, claim_check: ClaimCheck, *, queue: str = Q_REVIEW_REQUESTS) -> None:
        self._aws = aws
        self._claim_check = claim_check
        self._queue = queue
        self._url: str | None = None

    async def send(self, envelopes: Sequence[Envelope]) -> int:
        """Send every envelope; returns how many. Entries SQS refuses are retried once
        one by one; a second refusal raises :class:`Retryable` (nothing dropped silently)."""
        if not envelopes:
            return 0
        sqs = await self._aws.client("sqs")
        url = await self._queue_url()
        batch: list[dict[str, Any]] = []
        size = 0
        for envelope in envelopes:
            wire = await self._claim_check.offload(envelope)
            body = wire.to_json()
            if batch and (len(batch) == _BATCH or size + len(body) > _BATCH_BYTES):
                await self._send_batch(sqs, url, batch)
                batch, size = [], 0
            batch.append(
                {"Id": str(len(batch)), "MessageBody": body, "MessageAttributes": message_attributes(wire)}
            )
            size += len(body)
        if batch:
            await self._send_batch(sqs, url, batch)
        return len(envelopes)

    async def _send_batch(self, sqs: Any, url: str, batch: list[dict[str, Any]]) -> None:
        resp = await sqs.send_message_batch(QueueUrl=url, Entries=batch)
        by_id = {e["Id"]: e for e in batch}
        for failed in resp.get("Failed", []):
            entry = by_id[failed["Id"]]
            log.warning("sync.review_send_retry", code=failed.get("Code"), message=failed.get("Message"))
            try:
                await sqs.send_message(
                    QueueUrl=url,
                    MessageBody=entry["MessageBody"],
                    MessageAttributes=entry["MessageAttributes"],
                )
            except Exception as exc:
                raise Retryable(f"could not send a review request to {self._queue}: {exc}") from exc

    async def _queue_url(self) -> str:
        if self._url is None:
            sqs = await self._aws.client("sqs")
            self._url = str((await sqs.get_queue_url(QueueName=self._queue))["QueueUrl"])
        return self._url


def review(
    anime_id: str, kind: ReviewKind, reason: str, details: dict[str, Any], fingerprint: dict[str, Any]
) -> Envelope:
    """A review request envelope (shorthand used by the sync's findings)."""
    return review_envelope(
        ReviewRequest(anime_id=anime_id, kind=kind, reason=reason, details=details), fingerprint=fingerprint
    )
