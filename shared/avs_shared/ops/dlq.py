"""Dead-letter queues for operators: which there are, what they hold, and (see
:mod:`avs_shared.ops.dlq_replay`) sending their messages back.

The queues come from the topology catalogue: every work queue's ``<name>-dlq``, whose
messages go back to ``<name>``, plus the failure queue ``image-ingestion-failures``,
whose records go back as ``image-requested`` events. Both ``avs dlq`` and the API's
``/ops/dlq`` endpoints use these functions.

Looking at messages means receiving them: :func:`show` hides them for a few seconds
and makes them visible again at once, and :func:`list_queues` samples up to ten with
a zero visibility timeout for the oldest age. Either counts as a receive of those
messages (``ApproximateReceiveCount``); DLQs have no redrive policy, so that changes
nothing else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aiobotocore.client import AioBaseClient
from botocore.exceptions import ClientError
from pydantic import ValidationError

from avs_shared.adapters.aws import AwsClients
from avs_shared.errors import ConfigurationError, NotFound
from avs_shared.events.envelope import Envelope
from avs_shared.events.failures import ImageIngestionFailure
from avs_shared.runtime.inbound import sqs_string_attributes, unwrap
from avs_shared.topology import Q_IMAGE_FAILURES, TOPIC_IMAGE_REQUESTED, TOPOLOGY, Topology

QueueKind = Literal["dead-letter", "failures"]
DEAD_LETTER_ATTRIBUTES = frozenset({"error_reason", "error_type", "source_queue", "receive_count"})
"""Message attributes the worker runtime adds when it dead-letters a message."""
_BODY_PREVIEW = 2000
_SHOW_HIDE_S = 30


@dataclass(frozen=True)
class DeadLetterQueue:
    """A queue operators can inspect and replay, and where its messages go back to."""

    name: str
    kind: QueueKind
    target: str  # the source queue, or the topic failure records are re-published on

    @property
    def describes_target(self) -> str:
        if self.kind == "failures":
            return f"re-published as {TOPIC_IMAGE_REQUESTED} events"
        return f"back to the queue {self.target}"


def dead_letter_queues(topology: Topology = TOPOLOGY) -> list[DeadLetterQueue]:
    """Every DLQ of the catalogue, then the failure queue."""
    found = [DeadLetterQueue(q.dlq_name, "dead-letter", q.name) for q in topology.queues if q.dlq_name]
    if any(q.name == Q_IMAGE_FAILURES for q in topology.queues):
        found.append(DeadLetterQueue(Q_IMAGE_FAILURES, "failures", TOPIC_IMAGE_REQUESTED))
    return found


def resolve_queue(name: str, topology: Topology = TOPOLOGY) -> DeadLetterQueue:
    """The DLQ or failure queue called ``name``; :class:`NotFound` (saying which exist) otherwise."""
    queues = dead_letter_queues(topology)
    for queue in queues:
        if queue.name == name:
            return queue
    hint = ""
    if any(q.target == name and q.kind == "dead-letter" for q in queues):
        hint = f" (it is a work queue; its dead letters are in {name}-dlq)"
    raise NotFound(
        f"{name!r} is not a dead-letter or failure queue{hint}; choose from: "
        + ", ".join(q.name for q in queues)
    )


async def queue_url(sqs: AioBaseClient, name: str) -> str:
    try:
        return str((await sqs.get_queue_url(QueueName=name))["QueueUrl"])
    except ClientError as exc:
        raise ConfigurationError(
            f"queue {name!r} does not exist at the configured endpoint; provision the topology first "
            "(`avs local up`, or the infrastructure code in the cloud)"
        ) from exc


async def queue_arn(sqs: AioBaseClient, url: str) -> str:
    attrs = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))["Attributes"]
    return str(attrs["QueueArn"])


# ---------------------------------------------------------------------------- list
@dataclass(frozen=True)
class QueueDepth:
    """One queue's depth: ``visible`` waiting, ``in_flight`` received and not yet deleted.

    ``oldest_age_s`` is the age of the oldest message seen in a sample of up to ten
    (exact when the queue holds at most ten visible messages, see ``oldest_exact``).
    """

    name: str
    kind: QueueKind
    target: str
    visible: int
    in_flight: int
    oldest_age_s: float | None
    oldest_exact: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def list_queues(aws: AwsClients, topology: Topology = TOPOLOGY) -> list[QueueDepth]:
    """Depth and oldest age of every DLQ and the failure queue."""
    sqs = await aws.client("sqs")
    out: list[QueueDepth] = []
    for queue in dead_letter_queues(topology):
        url = await queue_url(sqs, queue.name)
        attrs = (
            await sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )
        )["Attributes"]
        visible = int(attrs.get("ApproximateNumberOfMessages", 0))
        oldest = None
        if visible:
            resp = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["SentTimestamp"]
            )
            sent = [int(m["Attributes"]["SentTimestamp"]) for m in resp.get("Messages", [])]
            if sent:
                oldest = max(0.0, time.time() - min(sent) / 1000)
        out.append(
            QueueDepth(
                name=queue.name,
                kind=queue.kind,
                target=queue.target,
                visible=visible,
                in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                oldest_age_s=None if oldest is None else round(oldest, 1),
                oldest_exact=visible <= 10,
            )
        )
    return out


# ---------------------------------------------------------------------------- show
@dataclass
class ShownMessage:
    """One dead-lettered message, decoded as far as it goes.

    ``receive_count`` is how often the DLQ copy was received (looking counts);
    ``source_receive_count`` how often the source queue delivered it before it was
    dead-lettered (when the runtime recorded it). ``problem`` says why the body is
    not a valid envelope or failure record, if it is not.
    """

    message_id: str
    sent_at: str | None
    receive_count: int
    source_receive_count: int | None
    error_type: str | None
    error_reason: str | None
    source_queue: str | None
    event_type: str | None = None
    event_id: str | None = None
    correlation_id: str | None = None
    anime_id: str | None = None
    problem: str | None = None
    body: Any = None
    attributes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_message(queue: DeadLetterQueue, message: Mapping[str, Any]) -> ShownMessage:
    """Decode one received message of ``queue`` (never raises on a bad body)."""
    attrs = sqs_string_attributes(message)
    sys_attrs = message.get("Attributes") or {}
    sent = sys_attrs.get("SentTimestamp")
    source_count = attrs.get("receive_count")
    shown = ShownMessage(
        message_id=str(message.get("MessageId", "")),
        sent_at=None if sent is None else datetime.fromtimestamp(int(sent) / 1000, UTC).isoformat(),
        receive_count=int(sys_attrs.get("ApproximateReceiveCount", 0)),
        source_receive_count=int(source_count) if source_count and source_count.isdigit() else None,
        error_type=attrs.get("error_type"),
        error_reason=attrs.get("error_reason"),
        source_queue=attrs.get("source_queue"),
        attributes={k: v for k, v in attrs.items() if k not in DEAD_LETTER_ATTRIBUTES},
    )
    body = str(message.get("Body", ""))
    if queue.kind == "failures":
        try:
            failure = ImageIngestionFailure.from_json(body)
        except ValidationError as exc:
            shown.problem = f"not a failure record: {exc.errors()[0]['msg']}"
            shown.body = body[:_BODY_PREVIEW]
            return shown
        shown.event_type, shown.anime_id = "image-ingestion-failure", failure.anime_id
        shown.error_reason = shown.error_reason or failure.error_message
        shown.event_id = failure.context.get("event_id") or None
        shown.correlation_id = failure.context.get("correlation_id") or None
        shown.body = failure.model_dump(mode="json")
        return shown
    try:
        unwrapped = unwrap(body, attrs)
        envelope = Envelope.model_validate_json(unwrapped.text)
    except Exception as exc:  # not JSON, or not an envelope (Step Functions messages are not)
        shown.problem = f"not an event envelope: {str(exc).splitlines()[0]}"
        shown.body = _json_or_text(body)
        return shown
    shown.event_type, shown.event_id = envelope.event_type, envelope.event_id
    shown.correlation_id = envelope.correlation_id
    payload = envelope.payload or {}
    anime_id = payload.get("anime_id")
    shown.anime_id = anime_id if isinstance(anime_id, str) else None
    shown.body = json.loads(envelope.to_json())
    return shown


def _json_or_text(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body[:_BODY_PREVIEW]


async def show(
    aws: AwsClients, name: str, *, limit: int = 10, topology: Topology = TOPOLOGY
) -> list[ShownMessage]:
    """Up to ``limit`` messages of the queue ``name``, decoded; they stay in the queue."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    queue = resolve_queue(name, topology)
    sqs = await aws.client("sqs")
    url = await queue_url(sqs, queue.name)
    seen: dict[str, Mapping[str, Any]] = {}
    try:
        while len(seen) < limit:
            resp = await sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                VisibilityTimeout=_SHOW_HIDE_S,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch = [m for m in resp.get("Messages", []) if m["MessageId"] not in seen]
            if not batch:
                break
            seen.update((m["MessageId"], m) for m in batch)
    finally:
        await make_visible(sqs, url, [str(m["ReceiptHandle"]) for m in seen.values()])
    return [describe_message(queue, m) for m in seen.values()]


async def make_visible(sqs: AioBaseClient, url: str, receipts: Sequence[str]) -> None:
    """Make received messages visible again now (best effort: else they return by themselves)."""
    for start in range(0, len(receipts), 10):
        part = receipts[start : start + 10]
        try:
            await sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0} for i, r in enumerate(part)
                ],
            )
        except ClientError:
            pass  # they become visible when their visibility timeout ends
