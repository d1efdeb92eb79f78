"""SNS implementation of :class:`avs_shared.ports.messaging.Publisher`.

An envelope goes to the topic named after its ``event_type`` (``anime-new``,
``image-requested``, ``entry-approved``). On the way it gets:

- the current OpenTelemetry trace context, if it carries none yet (the publish
  runs in a PRODUCER span, so a consumer's span becomes that span's child);
- the claim check: a payload over the threshold is stored in S3 and replaced by
  ``payload_ref``;
- SNS message attributes ``event_type``, ``correlation_id``, ``traceparent`` and
  ``tracestate``, which SNS copies into the notification each queue receives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog
from opentelemetry import propagate, trace

from avs_shared.adapters.aws import AwsClients
from avs_shared.errors import ConfigurationError
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.events.envelope import Envelope, TraceContext
from avs_shared.topology import TOPOLOGY, Topology

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

_BATCH_ENTRIES = 10
_BATCH_BYTES = 250_000  # SNS caps a PublishBatch at 256 KiB in total


def current_trace_context() -> TraceContext:
    """The W3C trace context of the active span (empty when there is none)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return TraceContext(traceparent=carrier.get("traceparent"), tracestate=carrier.get("tracestate"))


class SnsPublisher:
    """Publishes envelopes to the catalogue's SNS topics.

    Parameters
    ----------
    aws:
        The client factory.
    claim_check:
        Offloads large payloads before they hit SNS's 256 KB limit.
    topology:
        The catalogue; an event type is published to the topic of the same name.
    tracer_provider:
        Where the PRODUCER spans go; the global provider by default.
    """

    def __init__(
        self,
        aws: AwsClients,
        claim_check: ClaimCheck,
        topology: Topology = TOPOLOGY,
        *,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self._aws = aws
        self._claim_check = claim_check
        self._topic_names = frozenset(t.name for t in topology.topics)
        self._arns: dict[str, str] | None = None
        self._lock = asyncio.Lock()
        self._tracer = trace.get_tracer("avs.sns", tracer_provider=tracer_provider)

    def topic_for(self, event_type: str) -> str:
        """The topic an event type is published to."""
        if event_type not in self._topic_names:
            raise ConfigurationError(
                f"no SNS topic for event type {event_type!r} (topics: {sorted(self._topic_names)}); "
                "pass topic= or send it to a queue directly"
            )
        return event_type

    async def topic_arn(self, name: str) -> str:
        """The ARN of topic ``name``, looked up once and cached."""
        arns = self._arns
        if arns is None or name not in arns:
            async with self._lock:
                if self._arns is None or name not in self._arns:
                    self._arns = await self._list_topics()
                arns = self._arns
        arn = arns.get(name)
        if arn is None:
            raise ConfigurationError(
                f"SNS topic {name!r} does not exist at the configured endpoint; "
                "provision the topology first (`avs local up` or the Pulumi stack)"
            )
        return arn

    async def publish(self, envelope: Envelope, *, topic: str | None = None) -> str:
        """Publish one envelope; returns the SNS message id."""
        name = topic or self.topic_for(envelope.event_type)
        arn = await self.topic_arn(name)
        sns = await self._aws.client("sns")
        with self._tracer.start_as_current_span(
            f"{name} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "aws_sns",
                "messaging.destination.name": name,
                "avs.event_id": envelope.event_id,
                "avs.event_type": envelope.event_type,
                "avs.correlation_id": envelope.correlation_id,
            },
        ) as span:
            if not envelope.trace.traceparent:
                envelope = envelope.model_copy(update={"trace": current_trace_context()})
            wire = await self._claim_check.offload(envelope)
            resp = await sns.publish(
                TopicArn=arn, Message=wire.to_json(), MessageAttributes=message_attributes(wire)
            )
            message_id = str(resp["MessageId"])
            span.set_attribute("messaging.message.id", message_id)
        log.debug(
            "event.published",
            topic=name,
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            correlation_id=envelope.correlation_id,
            by_reference=wire.payload_ref is not None,
            message_id=message_id,
        )
        return message_id

    async def publish_many(self, envelopes: Sequence[Envelope], *, topic: str | None = None) -> list[str]:
        """Publish many envelopes with SNS ``PublishBatch`` (10 per call, under 256 KB per
        call); returns the message ids in order.

        Each envelope gets the same treatment as :meth:`publish` (trace context, claim
        check, attributes). Entries SNS reports as failed are retried once one by one
        with :meth:`publish`; a second failure raises, so nothing is dropped silently.
        Consumers deduplicate by ``event_id``, so a retried batch is harmless.
        """
        if not envelopes:
            return []
        sns = await self._aws.client("sns")
        ids: list[str] = [""] * len(envelopes)
        groups: dict[str, list[int]] = {}
        for i, envelope in enumerate(envelopes):
            groups.setdefault(topic or self.topic_for(envelope.event_type), []).append(i)
        for name, positions in groups.items():
            arn = await self.topic_arn(name)
            with self._tracer.start_as_current_span(
                f"{name} publish",
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "aws_sns",
                    "messaging.destination.name": name,
                    "messaging.batch.message_count": len(positions),
                },
            ):
                context = current_trace_context()
                batch: list[tuple[int, dict[str, Any]]] = []
                size = 0
                for i in positions:
                    envelope = envelopes[i]
                    if not envelope.trace.traceparent:
                        envelope = envelope.model_copy(update={"trace": context})
                    wire = await self._claim_check.offload(envelope)
                    body = wire.to_json()
                    entry_size = len(body.encode("utf-8")) + 512
                    if batch and (len(batch) == _BATCH_ENTRIES or size + entry_size > _BATCH_BYTES):
                        await self._send_batch(sns, arn, name, batch, envelopes, ids)
                        batch, size = [], 0
                    attributes = message_attributes(wire)
                    entry = {"Id": str(len(batch)), "Message": body, "MessageAttributes": attributes}
                    batch.append((i, entry))
                    size += entry_size
                if batch:
                    await self._send_batch(sns, arn, name, batch, envelopes, ids)
        log.debug("events.published", count=len(envelopes), topics=sorted(groups))
        return ids

    async def _send_batch(
        self,
        sns: Any,
        arn: str,
        name: str,
        batch: list[tuple[int, dict[str, Any]]],
        envelopes: Sequence[Envelope],
        ids: list[str],
    ) -> None:
        resp = await sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[e for _, e in batch])
        by_id = {entry["Id"]: i for i, entry in batch}
        for ok in resp.get("Successful", []):
            ids[by_id[ok["Id"]]] = str(ok["MessageId"])
        for failed in resp.get("Failed", []):
            i = by_id[failed["Id"]]
            log.warning(
                "event.batch_entry_failed",
                topic=name,
                event_id=envelopes[i].event_id,
                code=failed.get("Code"),
                message=failed.get("Message"),
            )
            ids[i] = await self.publish(envelopes[i], topic=name)

    async def _list_topics(self) -> dict[str, str]:
        sns = await self._aws.client("sns")
        found: dict[str, str] = {}
        paginator = sns.get_paginator("list_topics")
        async for page in paginator.paginate():
            for item in page.get("Topics", []):
                arn = str(item["TopicArn"])
                short = arn.rsplit(":", 1)[-1]
                if short in self._topic_names:
                    found[short] = arn
        return found


def message_attributes(envelope: Envelope) -> dict[str, dict[str, str]]:
    """SNS/SQS message attributes of an envelope (empty values left out: AWS rejects them)."""
    values = {
        "event_type": envelope.event_type,
        "correlation_id": envelope.correlation_id,
        "traceparent": envelope.trace.traceparent,
        "tracestate": envelope.trace.tracestate,
    }
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items() if v}
