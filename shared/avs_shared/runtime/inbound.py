"""From an SQS message to a typed payload: unwrap, validate, resolve the claim check.

A queue subscribed to an SNS topic (raw delivery off) receives the SNS
notification JSON, whose ``Message`` is the envelope and whose
``MessageAttributes`` carry ``{"Type": ..., "Value": ...}``. Messages sent to SQS
directly (Step Functions, the scheduler, tests) carry the envelope as the body
and attributes as SQS message attributes. Both are accepted.

Anything that cannot become the handler's payload raises :class:`Poison`: no retry
can fix it, so the runtime dead-letters it at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from avs_shared.errors import NotFound, Permanent
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.events.envelope import Envelope
from avs_shared.events.types import EventPayload
from avs_shared.runtime.spec import RawAdapter

_REASON_MAX = 1000


class Poison(Exception):
    """A message that can never be handled; ``error_type`` names what was wrong."""

    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.reason = reason[:_REASON_MAX]
        self.error_type = error_type


@dataclass(frozen=True)
class Unwrapped:
    """The envelope text and the message attributes, wherever they came from."""

    text: str
    attributes: dict[str, str]
    via_sns: bool


@dataclass(frozen=True)
class Decoded:
    envelope: Envelope
    payload: EventPayload
    attributes: dict[str, str]

    def trace_carrier(self) -> dict[str, str]:
        """The W3C trace context: the envelope's, else the message attributes'."""
        carrier = self.envelope.trace.carrier()
        if carrier:
            return carrier
        return {k: v for k in ("traceparent", "tracestate") if (v := self.attributes.get(k))}


def sqs_string_attributes(message: Mapping[str, object]) -> dict[str, str]:
    """String-valued SQS message attributes of a received message."""
    raw = message.get("MessageAttributes")
    out: dict[str, str] = {}
    if isinstance(raw, Mapping):
        for name, attr in raw.items():
            if isinstance(attr, Mapping) and isinstance(attr.get("StringValue"), str):
                out[str(name)] = str(attr["StringValue"])
    return out


def unwrap(body: str, sqs_attributes: dict[str, str]) -> Unwrapped:
    """Peel the SNS notification off ``body`` if there is one.

    Raises
    ------
    Poison
        ``body`` is not JSON.
    """
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise Poison(f"body is not JSON: {exc}", type(exc).__name__) from exc
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str):
        attrs: dict[str, str] = {}
        raw_attrs = doc.get("MessageAttributes")
        if isinstance(raw_attrs, dict):
            for name, attr in raw_attrs.items():
                if isinstance(attr, dict) and isinstance(attr.get("Value"), str):
                    attrs[str(name)] = attr["Value"]
        return Unwrapped(text=doc["Message"], attributes=attrs, via_sns=True)
    return Unwrapped(text=body, attributes=dict(sqs_attributes), via_sns=False)


async def decode(
    body: str,
    sqs_attributes: dict[str, str],
    payload_type: type[EventPayload],
    claim_check: ClaimCheck,
    *,
    adapt: RawAdapter | None = None,
) -> Decoded:
    """Validate the envelope, check its type, resolve the claim check, validate the payload.

    ``adapt`` (a handler's :data:`~avs_shared.runtime.spec.RawAdapter`) gets the first
    look at the body and may turn a message that is not an envelope into one.

    Raises
    ------
    Poison
        The body, the envelope or the payload is invalid, the event type is not
        ``payload_type``'s, or the claim-check object is missing or not JSON.
    Exception
        Anything else (S3 unreachable, ...) propagates: it is worth a retry.
    """
    unwrapped = unwrap(body, sqs_attributes)
    try:
        adapted = adapt(unwrapped.text) if adapt is not None else None
        envelope = adapted if adapted is not None else Envelope.model_validate_json(unwrapped.text)
    except ValidationError as exc:
        raise Poison(f"invalid envelope: {exc}", type(exc).__name__) from exc
    except ValueError as exc:
        raise Poison(f"invalid message: {exc}", type(exc).__name__) from exc
    expected = payload_type.EVENT_TYPE
    if envelope.event_type != expected:
        raise Poison(
            f"event_type {envelope.event_type!r} does not belong on this queue (expected {expected!r})",
            "EventTypeMismatch",
        )
    try:
        raw = await claim_check.resolve(envelope)
    except (NotFound, Permanent) as exc:
        raise Poison(f"claim check {envelope.payload_ref}: {exc}", type(exc).__name__) from exc
    try:
        payload = payload_type.model_validate(raw)
    except ValidationError as exc:
        raise Poison(f"invalid {expected} payload: {exc}", type(exc).__name__) from exc
    return Decoded(envelope=envelope, payload=payload, attributes=unwrapped.attributes)
