"""The message envelope every event travels in.

An envelope carries a stable ``event_id`` (the same across producer retries, so
consumers can deduplicate), the ``event_type`` and ``schema_version`` of its
payload, ``occurred_at`` (UTC), a ``correlation_id`` that follows one anime through
the whole pipeline, the W3C trace context, and either the ``payload`` itself or a
``payload_ref`` (an S3 key, see :mod:`avs_shared.events.claim_check`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

_EVENT_NS = uuid.UUID("5b0f3a52-3a0e-4d1c-9e0b-6a1c5c9f2d11")


def derive_event_id(*parts: str) -> str:
    """A deterministic event id from stable parts (for example the parent event id,
    the handler name and the index of the follow-up), so a retried producer emits
    the same id and consumers see a duplicate rather than a new event."""
    return str(uuid.uuid5(_EVENT_NS, "\x1f".join(parts)))


class TraceContext(BaseModel):
    """W3C trace context (``traceparent`` / ``tracestate`` headers)."""

    model_config = ConfigDict(extra="forbid")

    traceparent: str | None = None
    tracestate: str | None = None

    def carrier(self) -> dict[str, str]:
        return {k: v for k, v in (("traceparent", self.traceparent), ("tracestate", self.tracestate)) if v}


class Envelope(BaseModel):
    """One message on a topic or queue.

    Exactly one of ``payload`` and ``payload_ref`` is set. Unknown top-level keys
    from newer producers are kept (``extra="allow"``) so a relay does not drop them.
    """

    model_config = ConfigDict(extra="allow")

    event_id: str = Field(min_length=1, max_length=128)
    event_type: str = Field(min_length=1, max_length=64)
    schema_version: int = Field(default=1, ge=1)
    occurred_at: datetime
    correlation_id: str = Field(min_length=1, max_length=128)
    trace: TraceContext = Field(default_factory=TraceContext)
    payload: dict[str, JsonValue] | None = None
    payload_ref: str | None = None

    @model_validator(mode="after")
    def _one_body(self) -> Self:
        if (self.payload is None) == (self.payload_ref is None):
            raise ValueError("exactly one of payload and payload_ref must be set")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone (UTC)")
        return self

    @classmethod
    def new(
        cls,
        event_type: str,
        payload: dict[str, Any],
        *,
        schema_version: int = 1,
        event_id: str | None = None,
        correlation_id: str | None = None,
        trace: TraceContext | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        eid = event_id or str(uuid.uuid4())
        return cls(
            event_id=eid,
            event_type=event_type,
            schema_version=schema_version,
            occurred_at=occurred_at or datetime.now(UTC),
            correlation_id=correlation_id or eid,
            trace=trace or TraceContext(),
            payload=payload,
        )

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Envelope:
        return cls.model_validate_json(raw)
