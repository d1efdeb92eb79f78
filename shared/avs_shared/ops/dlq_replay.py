"""Replaying a dead-letter queue: its messages go back to where they failed.

* A DLQ (``<name>-dlq``) goes back to ``<name>``. Without ``limit`` or ``dry_run`` an
  SQS move task is tried first (``StartMessageMoveTask``: AWS and LocalStack move the
  messages server-side); where the endpoint does not offer it (moto) the messages
  are moved one batch at a time: receive, **send** to the source queue (the body
  unchanged, the runtime's dead-letter annotations dropped), **then delete**.
* ``image-ingestion-failures``: its records are re-published as ``image-requested``
  events, one per anime per batch, marked to be retried at once; then deleted.

Nothing is lost: a message is deleted only after its copy was sent; a crash in
between leaves both, and consumers skip the duplicate by ``event_id`` (a re-published
failure batch gets an id derived from its records, so a repeat is a duplicate too).
A second run finds the queue empty and moves nothing. Records that cannot be
replayed (a failure-queue message that is not a failure record) are skipped and
left in place; messages whose send failed are counted as failed and stay too.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import structlog
from aiobotocore.client import AioBaseClient
from pydantic import ValidationError

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.sqs_move_tasks import MoveTaskUnavailable, SqsMoveTasks
from avs_shared.events.envelope import derive_event_id
from avs_shared.events.failures import ImageIngestionFailure
from avs_shared.events.types import ImageRequested
from avs_shared.ops.dlq import (
    DEAD_LETTER_ATTRIBUTES,
    DeadLetterQueue,
    make_visible,
    queue_arn,
    queue_url,
    resolve_queue,
)
from avs_shared.ports.messaging import Publisher
from avs_shared.topology import TOPOLOGY, Topology

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

Progress = Callable[[int, int], None]
"""``(messages handled so far, total expected)``; total 0 when unknown."""
Method = Literal["move-task", "receive-send-delete", "republish"]
_BATCH_BYTES = 250_000  # SQS caps a SendMessageBatch at 256 KiB in total
_POLL_S = 1.0


@dataclass
class ReplayReport:
    """What a replay did. In a dry run ``moved`` counts what would have been moved."""

    queue: str
    target: str
    method: Method
    dry_run: bool
    moved: int = 0
    skipped: int = 0
    failed: int = 0
    remaining: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Replayer:
    """Replays one queue (see the module docstring).

    Parameters
    ----------
    aws:
        The client factory.
    publisher:
        Publishes the ``image-requested`` events of a failure-queue replay.
    hide_s:
        How long a received message stays hidden while it is being moved; longer than
        one batch takes.
    empty_wait_s:
        Long-poll wait of the receive that decides the queue is empty (a short poll
        may miss messages on AWS).
    use_move_tasks:
        Try ``StartMessageMoveTask`` first for DLQs.
    """

    def __init__(
        self,
        aws: AwsClients,
        publisher: Publisher | None,
        *,
        topology: Topology = TOPOLOGY,
        hide_s: int = 120,
        empty_wait_s: int = 1,
        use_move_tasks: bool = True,
    ) -> None:
        self._aws = aws
        self._publisher = publisher
        self._topology = topology
        self._hide_s = hide_s
        self._empty_wait_s = empty_wait_s
        self._move_tasks = SqsMoveTasks(aws) if use_move_tasks else None

    async def replay(
        self, name: str, *, limit: int | None = None, dry_run: bool = False, progress: Progress | None = None
    ) -> ReplayReport:
        """Replay up to ``limit`` messages (all when None) of the queue ``name``."""
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1 (or None for all)")
        queue = resolve_queue(name, self._topology)
        if queue.kind == "failures" and self._publisher is None and not dry_run:
            raise ValueError("replaying the failure queue needs a publisher")
        sqs = await self._aws.client("sqs")
        url = await queue_url(sqs, queue.name)
        total = await _depth(sqs, url)
        total = min(total, limit) if limit is not None else total
        method: Method = "republish" if queue.kind == "failures" else "receive-send-delete"
        report = ReplayReport(queue=queue.name, target=queue.target, method=method, dry_run=dry_run)
        tick = progress or (lambda done, of: None)
        tick(0, total)
        if queue.kind == "dead-letter" and limit is None and not dry_run and self._move_tasks is not None:
            if await self._move_task(sqs, queue, url, report, tick):
                report.remaining = await _depth(sqs, url)
                return report
        await self._by_batches(sqs, queue, url, report, limit, total, tick)
        report.remaining = await _depth(sqs, url)
        return report

    # ---------------------------------------------------------------- server-side move
    async def _move_task(
        self, sqs: AioBaseClient, queue: DeadLetterQueue, url: str, report: ReplayReport, tick: Progress
    ) -> bool:
        assert self._move_tasks is not None
        source_arn = await queue_arn(sqs, url)
        target_arn = await queue_arn(sqs, await queue_url(sqs, queue.target))
        try:
            handle = await self._move_tasks.start(source_arn, target_arn)
        except MoveTaskUnavailable as exc:
            report.notes.append(f"StartMessageMoveTask unavailable ({exc}); moved the messages in batches")
            log.info("dlq.move_task_unavailable", queue=queue.name, reason=str(exc))
            return False
        report.method = "move-task"
        while True:
            status = await self._move_tasks.status(source_arn, handle)
            tick(status.moved, status.to_move)
            if status.finished:
                break
            await asyncio.sleep(_POLL_S)
        report.moved = status.moved
        if status.status != "COMPLETED":
            report.failed = max(status.to_move - status.moved, 0)
            report.notes.append(
                f"the move task ended {status.status}: {status.failure_reason or 'no reason given'}"
            )
        return True

    # ---------------------------------------------------------------- batch by batch
    async def _by_batches(
        self,
        sqs: AioBaseClient,
        queue: DeadLetterQueue,
        url: str,
        report: ReplayReport,
        limit: int | None,
        total: int,
        tick: Progress,
    ) -> None:
        target_url = await queue_url(sqs, queue.target) if queue.kind == "dead-letter" else None
        seen: set[str] = set()
        restore: list[str] = []  # receipts of messages left in place (skipped, dry run)
        try:
            while limit is None or len(seen) < limit:
                want = 10 if limit is None else min(10, limit - len(seen))
                batch = await self._receive(sqs, url, want, seen)
                if not batch:
                    break
                seen.update(m["MessageId"] for m in batch)
                if report.dry_run:
                    report.moved += self._count_replayable(queue, batch, report)
                    restore.extend(m["ReceiptHandle"] for m in batch if m["ReceiptHandle"] not in restore)
                elif target_url is not None:
                    await self._move_batch(sqs, url, target_url, batch, report)
                else:
                    await self._republish_batch(sqs, url, batch, report, restore)
                tick(report.moved + report.skipped + report.failed, max(total, len(seen)))
        finally:
            await make_visible(sqs, url, restore)

    async def _receive(
        self, sqs: AioBaseClient, url: str, want: int, seen: set[str]
    ) -> list[Mapping[str, Any]]:
        """The next messages not handled in this run yet (empty when the queue is drained)."""
        for wait in (0, self._empty_wait_s):
            resp = await sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=want,
                VisibilityTimeout=self._hide_s,
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = resp.get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if fresh:
                return fresh
            if messages:
                return []  # only messages this run already handled came back: done
        return []

    @staticmethod
    def _count_replayable(
        queue: DeadLetterQueue, batch: Sequence[Mapping[str, Any]], report: ReplayReport
    ) -> int:
        if queue.kind == "dead-letter":
            return len(batch)
        good = 0
        for message in batch:
            if _failure(message) is None:
                report.skipped += 1
            else:
                good += 1
        return good

    async def _move_batch(
        self,
        sqs: AioBaseClient,
        url: str,
        target_url: str,
        batch: Sequence[Mapping[str, Any]],
        report: ReplayReport,
    ) -> None:
        sent: list[Mapping[str, Any]] = []
        for part in _by_size(batch):
            entries = [
                {"Id": str(i), "MessageBody": m["Body"], "MessageAttributes": _kept_attributes(m)}
                for i, m in enumerate(part)
            ]
            try:
                resp = await sqs.send_message_batch(QueueUrl=target_url, Entries=entries)
            except Exception as exc:
                report.failed += len(part)
                report.notes.append(
                    f"sending {len(part)} messages failed: {exc}; they stay in {report.queue}"
                )
                continue
            ok = {e["Id"] for e in resp.get("Successful", [])}
            for failed in resp.get("Failed", []):
                report.failed += 1
                report.notes.append(
                    f"message {part[int(failed['Id'])]['MessageId']}: {failed.get('Message')}"
                )
            sent.extend(m for i, m in enumerate(part) if str(i) in ok)
        report.moved += await _delete(sqs, url, sent, report)

    async def _republish_batch(
        self,
        sqs: AioBaseClient,
        url: str,
        batch: Sequence[Mapping[str, Any]],
        report: ReplayReport,
        restore: list[str],
    ) -> None:
        assert self._publisher is not None
        groups: dict[str, list[tuple[Mapping[str, Any], ImageIngestionFailure]]] = {}
        for message in batch:
            failure = _failure(message)
            if failure is None:
                report.skipped += 1
                restore.append(str(message["ReceiptHandle"]))
                report.notes.append(f"message {message['MessageId']} is not a failure record; left in place")
                continue
            groups.setdefault(failure.anime_id, []).append((message, failure))
        for anime_id, items in groups.items():
            images = list({f.image_url: f.retry_request() for _, f in items}.values())
            digests = sorted(hashlib.sha256(str(m["Body"]).encode()).hexdigest() for m, _ in items)
            envelope = ImageRequested(anime_id=anime_id, images=images).envelope(
                event_id=derive_event_id("image-failure-replay", anime_id, *digests),
                correlation_id=_correlation_id(items),
            )
            try:
                await self._publisher.publish(envelope)
            except Exception as exc:
                report.failed += len(items)
                report.notes.append(f"re-publishing {anime_id} failed: {exc}; its records stay")
                continue
            report.moved += await _delete(sqs, url, [m for m, _ in items], report)


def _correlation_id(items: Sequence[tuple[Mapping[str, Any], ImageIngestionFailure]]) -> str | None:
    """The original request's correlation id, so the retry joins its trace of the anime."""
    for _, failure in items:
        found = failure.context.get("correlation_id")
        if isinstance(found, str) and found:
            return found
    return None


def _failure(message: Mapping[str, Any]) -> ImageIngestionFailure | None:
    try:
        return ImageIngestionFailure.from_json(str(message["Body"]))
    except ValidationError:
        return None


def _kept_attributes(message: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The message's attributes without the runtime's dead-letter annotations."""
    out: dict[str, dict[str, Any]] = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        if name in DEAD_LETTER_ATTRIBUTES:
            continue
        kept = {k: attr[k] for k in ("DataType", "StringValue", "BinaryValue") if k in attr}
        if "DataType" in kept:
            out[name] = kept
    return out


def _by_size(batch: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    parts: list[list[Mapping[str, Any]]] = []
    size = 0
    for message in batch:
        body = len(str(message["Body"]).encode()) + 1024
        if not parts or size + body > _BATCH_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(message)
        size += body
    return parts


async def _delete(
    sqs: AioBaseClient, url: str, messages: Sequence[Mapping[str, Any]], report: ReplayReport
) -> int:
    """Delete what was sent; returns how many. A failed delete leaves a copy that a later
    replay sends again (a duplicate consumers skip), so it still counts as moved."""
    for start in range(0, len(messages), 10):
        part = messages[start : start + 10]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(part)]
        try:
            resp = await sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            failed = len(resp.get("Failed", []))
        except Exception as exc:
            failed = len(part)
            log.warning("dlq.delete_failed", queue=report.queue, error=str(exc))
        if failed:
            report.notes.append(
                f"{failed} messages were sent but not deleted from {report.queue}; a later replay sends them "
                "again and consumers skip the duplicates"
            )
    return len(messages)


async def _depth(sqs: AioBaseClient, url: str) -> int:
    attrs = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]))[
        "Attributes"
    ]
    return int(attrs.get("ApproximateNumberOfMessages", 0))
