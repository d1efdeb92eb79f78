"""Messaging ports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from avs_shared.events.envelope import Envelope


class Publisher(Protocol):
    """Publishes envelopes to the topic named after their event type.

    Implementations move payloads over the claim-check threshold to S3 and carry
    the trace context as message attributes.
    """

    async def publish(self, envelope: Envelope, *, topic: str | None = None) -> str:
        """Publish one envelope; returns the message id. ``topic`` defaults to the event type's topic."""
        ...

    async def publish_many(self, envelopes: Sequence[Envelope], *, topic: str | None = None) -> list[str]:
        """Publish many envelopes in as few calls as the transport allows; message ids in order."""
        ...
