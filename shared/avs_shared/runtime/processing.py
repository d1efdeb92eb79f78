"""One message, start to finish: decode, claim, handle, publish, complete, then act on SQS.

The outcome table is in :mod:`avs_shared.runtime.outcome`. The order matters:
follow-up events are published only after the handler returned, the claim is
completed only after they were all published, and the message is deleted only
after that; any failure before the delete leaves the message to come back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import structlog
from aiobotocore.client import AioBaseClient
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from avs_shared.errors import Permanent, Retryable
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.events.types import EventPayload
from avs_shared.ports.messaging import Publisher
from avs_shared.ports.storage import ClaimState, IdempotencyStore, RenewableClaims
from avs_shared.runtime.heartbeat import VisibilityHeartbeat
from avs_shared.runtime.inbound import Decoded, Poison, decode, sqs_string_attributes
from avs_shared.runtime.metrics import record_message, record_queue_lag
from avs_shared.runtime.outcome import Action, Decision, HandlerStats, Outcome
from avs_shared.runtime.queues import BoundQueue
from avs_shared.runtime.spec import HandlerSpec, MessageContext

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)


class MessageProcessor:
    """Runs one received message through its handler and applies the outcome."""

    def __init__(
        self,
        *,
        sqs: AioBaseClient,
        publisher: Publisher,
        idempotency: IdempotencyStore,
        claim_check: ClaimCheck,
        tracer: trace.Tracer,
        busy_retry_s: float,
    ) -> None:
        self._sqs = sqs
        self._publisher = publisher
        self._idempotency = idempotency
        self._claim_check = claim_check
        self._tracer = tracer
        self._busy_retry_s = busy_retry_s

    async def process(
        self,
        spec: HandlerSpec[EventPayload],
        queue: BoundQueue,
        message: Mapping[str, object],
        stats: HandlerStats,
    ) -> Outcome:
        """Handle ``message`` and delete, re-time, dead-letter or leave it; never raises
        (except ``CancelledError``, after releasing the claim)."""
        started = time.perf_counter()
        receipt = str(message["ReceiptHandle"])
        attrs = message.get("Attributes")
        receive_count = int(attrs.get("ApproximateReceiveCount", 1)) if isinstance(attrs, Mapping) else 1
        fields: dict[str, object] = {
            "handler": spec.name,
            "queue": queue.name,
            "message_id": message.get("MessageId"),
            "receive_count": receive_count,
        }
        stats.received += 1
        record_queue_lag(queue.name, attrs if isinstance(attrs, Mapping) else None)
        async with VisibilityHeartbeat(self._sqs, queue.url, receipt, queue.visibility_timeout_s) as beat:
            decision = await self._decide(spec, queue, message, receive_count, beat, fields)
        outcome = await self._apply(decision, queue, message, receive_count, fields)
        latency = time.perf_counter() - started
        stats.record(outcome, latency)
        record_message(spec.name, queue.name, outcome.value, latency)
        self._log(outcome, decision, fields, latency)
        return outcome

    async def _decide(
        self,
        spec: HandlerSpec[EventPayload],
        queue: BoundQueue,
        message: Mapping[str, object],
        receive_count: int,
        beat: VisibilityHeartbeat,
        fields: dict[str, object],
    ) -> Decision:
        try:
            decoded = await decode(
                str(message["Body"]),
                sqs_string_attributes(message),
                spec.payload_type,
                self._claim_check,
                adapt=spec.raw,
            )
        except Poison as exc:
            return Decision.dead_letter(exc.reason, exc.error_type, exc)
        except Exception as exc:  # S3 down while resolving the claim check, ...
            return Decision.leave(exc)
        env = decoded.envelope
        fields.update(event_id=env.event_id, correlation_id=env.correlation_id, event_type=env.event_type)
        parent = propagate.extract(decoded.trace_carrier())
        with self._tracer.start_as_current_span(
            f"{spec.name} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "aws_sqs",
                "messaging.destination.name": queue.name,
                "messaging.message.id": str(message.get("MessageId", "")),
                "avs.handler": spec.name,
                "avs.event_id": env.event_id,
                "avs.correlation_id": env.correlation_id,
                "avs.receive_count": receive_count,
            },
        ) as span:
            decision = await self._run_claimed(spec, queue, decoded, receive_count, beat)
            span.set_attribute("avs.outcome", decision.outcome.value)
            if decision.error is not None:
                span.record_exception(decision.error)
                span.set_status(Status(StatusCode.ERROR, decision.error_type or "error"))
        return decision

    async def _run_claimed(
        self,
        spec: HandlerSpec[EventPayload],
        queue: BoundQueue,
        decoded: Decoded,
        receive_count: int,
        beat: VisibilityHeartbeat,
    ) -> Decision:
        env = decoded.envelope
        key = f"{spec.name}#{env.event_id}"
        lease_s = spec.lease_s or max(queue.visibility_timeout_s, 1)
        try:
            state = await self._idempotency.claim(key, lease_s=lease_s)
        except Exception as exc:
            return Decision.leave(exc)
        if state is ClaimState.ALREADY_DONE:
            return Decision.delete(Outcome.DUPLICATE)
        if state is ClaimState.IN_PROGRESS_ELSEWHERE:
            # Back off exponentially so a twin that runs long does not burn this copy's
            # receive count into the DLQ; never longer than the other claim's lease.
            delay = min(self._busy_retry_s * 2 ** max(receive_count - 1, 0), float(lease_s))
            return Decision.retry_in(Outcome.BUSY, delay)
        store = self._idempotency
        if isinstance(store, RenewableClaims):

            async def renew() -> None:
                await store.renew(key, lease_s=lease_s)

            beat.renew = renew
        ctx = MessageContext(envelope=env, receive_count=receive_count, queue=queue.name, handler=spec.name)
        try:
            try:
                events = await spec.handle(decoded.payload, ctx)
                for event in events or ():
                    await self._publisher.publish(event)
                await self._idempotency.complete(key)
            finally:
                beat.renew = None
        except Retryable as exc:
            await self._release(key)
            return Decision.retry_in(Outcome.RETRY, exc.retry_after_s, exc)
        except Permanent as exc:
            await self._release(key)
            return Decision.dead_letter(f"{type(exc).__name__}: {exc}", type(exc).__name__, exc)
        except asyncio.CancelledError:
            await asyncio.shield(self._release(key))
            raise
        except Exception as exc:
            await self._release(key)
            return Decision.leave(exc)
        return Decision.delete(Outcome.PROCESSED)

    async def _release(self, key: str) -> None:
        try:
            await self._idempotency.release(key)
        except Exception as exc:  # the lease expires on its own; a redelivery waits for it
            log.warning("idempotency.release_failed", key=key, error=f"{type(exc).__name__}: {exc}")

    async def _apply(
        self,
        decision: Decision,
        queue: BoundQueue,
        message: Mapping[str, object],
        receive_count: int,
        fields: dict[str, object],
    ) -> Outcome:
        receipt = str(message["ReceiptHandle"])
        try:
            if decision.action is Action.DELETE:
                await queue.delete(self._sqs, receipt)
            elif decision.action is Action.RETRY_IN:
                await queue.retry_in(self._sqs, receipt, decision.delay_s)
            elif decision.action is Action.DEAD_LETTER:
                await queue.dead_letter(
                    self._sqs,
                    message,
                    reason=decision.reason,
                    error_type=decision.error_type,
                    receive_count=receive_count,
                )
        except Exception as exc:
            # Deleting or re-timing failed: the message comes back after its visibility
            # timeout and the claim record decides what happens then. A failed
            # dead-lettering leaves the message where it was.
            log.error(
                "message.action_failed",
                action=decision.action.value,
                error=f"{type(exc).__name__}: {exc}",
                **fields,
            )
            if decision.action is Action.DEAD_LETTER:
                return Outcome.FAILED
        return decision.outcome

    @staticmethod
    def _log(outcome: Outcome, decision: Decision, fields: dict[str, object], latency: float) -> None:
        extra: dict[str, object] = {"outcome": outcome.value, "latency_ms": round(latency * 1000, 1)}
        if decision.action is Action.RETRY_IN:
            extra["retry_in_s"] = decision.delay_s
        if outcome is Outcome.FAILED:
            log.error(
                "message.failed",
                error=f"{decision.error_type}: {decision.reason}",
                exc_info=decision.error,
                **fields,
                **extra,
            )
        elif outcome is Outcome.DEAD_LETTERED:
            log.warning(
                "message.dead_lettered",
                error_type=decision.error_type,
                error_reason=decision.reason,
                **fields,
                **extra,
            )
        elif outcome in (Outcome.RETRY, Outcome.BUSY):
            log.info("message.retry_later", reason=decision.reason or None, **fields, **extra)
        else:
            log.info("message.handled", **fields, **extra)
