"""What a service declares to the worker runtime: its handlers and their queues."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from avs_shared.events.envelope import Envelope, derive_event_id
from avs_shared.events.types import EventPayload

P_co = TypeVar("P_co", bound=EventPayload, covariant=True)


@dataclass(frozen=True)
class MessageContext:
    """What a handler may know about the message it is handling.

    Attributes
    ----------
    envelope:
        The envelope as it arrived (``payload_ref`` still set if it came by claim check).
    receive_count:
        SQS's ``ApproximateReceiveCount``: 1 on the first delivery.
    queue:
        The queue it came from.
    handler:
        The handler's stable name.
    """

    envelope: Envelope
    receive_count: int
    queue: str
    handler: str

    def follow_up_id(self, index: int = 0) -> str:
        """The deterministic event id of the ``index``-th event this handler returns.

        A rerun of the same message (after a crash between publish and completion)
        publishes the same ids, so downstream consumers see duplicates, not new events.
        """
        return derive_event_id(self.envelope.event_id, self.handler, str(index))

    def follow_up(self, payload: EventPayload, index: int = 0) -> Envelope:
        """Wrap ``payload`` as the ``index``-th follow-up event: deterministic id, same correlation id."""
        return payload.envelope(
            event_id=self.follow_up_id(index), correlation_id=self.envelope.correlation_id
        )


Handler = Callable[[EventPayload, MessageContext], Awaitable[Sequence[Envelope]]]
"""A message handler: the typed payload and its context in, follow-up envelopes out."""

RawAdapter = Callable[[str], Envelope | None]
"""Turns a message body that is not an envelope into one (None: parse it as an envelope).

For queues that also receive messages from producers outside the envelope contract,
such as a Step Functions ``sqs:sendMessage.waitForTaskToken`` task, whose body is
whatever the state machine built. The returned envelope needs a deterministic
``event_id`` (derived from the body), so a redelivered message is recognised as a
duplicate. Raising ``ValueError`` (or a pydantic ``ValidationError``) dead-letters it.
"""


@dataclass(frozen=True)
class HandlerSpec(Generic[P_co]):
    """One handler bound to one queue.

    Attributes
    ----------
    name:
        Stable handler name; part of idempotency keys, logs and metrics. Renaming it
        makes already-handled events look new.
    queue:
        Topology queue name, e.g. ``topology.Q_ENRICHER_ANIME_NEW``.
    payload_type:
        The payload model; its ``EVENT_TYPE`` must match the envelope's ``event_type``.
    handle:
        ``async (payload, ctx) -> [follow-up envelopes]``. Raise
        :class:`~avs_shared.errors.Retryable` to retry later,
        :class:`~avs_shared.errors.Permanent` to dead-letter the message.
    concurrency:
        How many messages of this queue run at once in this process.
    lease_s:
        Idempotency claim lease; defaults to the queue's visibility timeout. The
        runtime renews it together with the visibility while the handler runs.
    raw:
        Optional :data:`RawAdapter` for bodies that are not envelopes; without one such
        a body is dead-lettered as an invalid envelope.
    """

    name: str
    queue: str
    payload_type: type[P_co]
    handle: Callable[[P_co, MessageContext], Awaitable[Sequence[Envelope]]]
    concurrency: int = 8
    lease_s: int | None = None
    raw: RawAdapter | None = None

    def __post_init__(self) -> None:
        if not self.name or "#" in self.name:
            raise ValueError(f"handler name {self.name!r} must be non-empty and free of '#'")
        if self.concurrency < 1:
            raise ValueError(f"handler {self.name}: concurrency must be at least 1")
        if self.lease_s is not None and self.lease_s < 1:
            raise ValueError(f"handler {self.name}: lease_s must be at least 1 second")
