"""The worker loop every service's consumer runs.

One poller per :class:`HandlerSpec` long-polls its queue and starts every
received message at once in its own task; a poller never asks for more messages
than its spec has free slots, so nothing waits in a buffer, and a stop never
strands a received message. On stop the pollers end (an outstanding long poll is
abandoned: a message SQS handed out in that instant is invisible for one
visibility timeout, then delivered again), in-flight handlers finish within the
drain timeout, and :meth:`Worker.run` returns.

What happens to each message is :mod:`avs_shared.runtime.processing`'s job; the
outcome table is in :mod:`avs_shared.runtime.outcome`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping, Sequence

import structlog
from opentelemetry import trace

from avs_shared.adapters.aws import AwsClients
from avs_shared.errors import ConfigurationError
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.events.types import EventPayload
from avs_shared.ports.messaging import Publisher
from avs_shared.ports.storage import IdempotencyStore
from avs_shared.runtime.outcome import HandlerStats
from avs_shared.runtime.processing import MessageProcessor
from avs_shared.runtime.queues import BoundQueue
from avs_shared.runtime.spec import Handler, HandlerSpec, MessageContext
from avs_shared.settings import ServiceSettings
from avs_shared.topology import TOPOLOGY, Topology

__all__ = ["Handler", "HandlerSpec", "HandlerStats", "MessageContext", "Worker"]

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

MAX_BATCH = 10  # SQS's limit per ReceiveMessage
_RECEIVE_BACKOFF_MAX_S = 30.0


class Worker:
    """Consumes the queues of ``specs`` until told to stop.

    Parameters
    ----------
    specs:
        One per handler; each names its own queue (two specs cannot share one).
    aws:
        The client factory; the worker uses its SQS client.
    settings:
        ``worker_poll_wait_seconds`` (long-poll wait) and ``worker_drain_timeout_seconds``.
    publisher:
        Publishes the envelopes handlers return.
    idempotency:
        Handler claims; renewed from the heartbeat if it implements ``RenewableClaims``.
    claim_check:
        Resolves ``payload_ref`` of incoming envelopes.
    topology:
        The catalogue that names each queue's dead-letter queue.
    tracer_provider:
        Where handler spans go; the global provider by default.
    busy_retry_s:
        First delay before a message whose claim another consumer holds is tried again.

    Attributes
    ----------
    stats:
        :class:`HandlerStats` per handler name (processed, failed, last latency, ...).
    """

    def __init__(
        self,
        specs: Sequence[HandlerSpec[EventPayload]],
        *,
        aws: AwsClients,
        settings: ServiceSettings,
        publisher: Publisher,
        idempotency: IdempotencyStore,
        claim_check: ClaimCheck,
        topology: Topology = TOPOLOGY,
        tracer_provider: trace.TracerProvider | None = None,
        busy_retry_s: float = 5.0,
    ) -> None:
        names = [s.name for s in specs]
        queues = [s.queue for s in specs]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"handler names must be unique: {names}")
        if len(set(queues)) != len(queues):
            raise ConfigurationError(f"each queue may have one handler per worker: {queues}")
        self._specs = tuple(specs)
        self._aws = aws
        self._settings = settings
        self._publisher = publisher
        self._idempotency = idempotency
        self._claim_check = claim_check
        self._topology = topology
        self._tracer = trace.get_tracer("avs.runtime", tracer_provider=tracer_provider)
        self._busy_retry_s = busy_retry_s
        self._tasks: dict[str, set[asyncio.Task[None]]] = {s.name: set() for s in specs}
        self.stats: Mapping[str, HandlerStats] = {s.name: HandlerStats() for s in specs}

    def in_flight(self, handler: str | None = None) -> int:
        """Messages being handled now (of one handler, or all)."""
        if handler is not None:
            return len(self._tasks[handler])
        return sum(len(t) for t in self._tasks.values())

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every spec's queue until ``stop`` is set, then drain and return.

        Raises
        ------
        avs_shared.errors.ConfigurationError
            A queue does not exist at the endpoint or is not in the catalogue.
        """
        sqs = await self._aws.client("sqs")
        bound = {s.name: await BoundQueue.resolve(sqs, self._topology, s.queue) for s in self._specs}
        processor = MessageProcessor(
            sqs=sqs,
            publisher=self._publisher,
            idempotency=self._idempotency,
            claim_check=self._claim_check,
            tracer=self._tracer,
            busy_retry_s=self._busy_retry_s,
        )
        log.info(
            "worker.started",
            handlers={s.name: s.queue for s in self._specs},
            visibility_timeout_s={q.name: q.visibility_timeout_s for q in bound.values()},
        )
        pollers = [
            asyncio.create_task(self._poll(s, bound[s.name], processor, stop), name=f"poll:{s.queue}")
            for s in self._specs
        ]
        try:
            await asyncio.gather(*pollers)
        except BaseException:
            # Cancelled (or a poller broke): stop everything now; claims are released.
            for poller in pollers:
                poller.cancel()
            await self._cancel_in_flight()
            raise
        await self._drain()

    async def _poll(
        self,
        spec: HandlerSpec[EventPayload],
        queue: BoundQueue,
        processor: MessageProcessor,
        stop: asyncio.Event,
    ) -> None:
        sqs = await self._aws.client("sqs")
        tasks = self._tasks[spec.name]
        slot_freed = asyncio.Event()
        stop_wait: asyncio.Task[bool] = asyncio.create_task(stop.wait())
        wait_s = self._settings.worker_poll_wait_seconds
        backoff_s = 0.0

        def finished(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            self.stats[spec.name].in_flight = len(tasks)
            slot_freed.set()

        try:
            while not stop.is_set():
                slot_freed.clear()
                free = spec.concurrency - len(tasks)
                if free <= 0:
                    await _first(slot_freed.wait(), stop_wait)
                    continue
                receive = asyncio.create_task(
                    sqs.receive_message(
                        QueueUrl=queue.url,
                        MaxNumberOfMessages=min(MAX_BATCH, free),
                        WaitTimeSeconds=wait_s,
                        AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                        MessageAttributeNames=["All"],
                    )
                )
                await asyncio.wait({receive, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not receive.done():
                    receive.cancel()
                    with contextlib.suppress(BaseException):
                        await receive
                    break
                try:
                    messages = list(receive.result().get("Messages", []))
                except Exception as exc:
                    backoff_s = min(max(backoff_s * 2, 1.0), _RECEIVE_BACKOFF_MAX_S)
                    log.warning(
                        "worker.receive_failed",
                        queue=queue.name,
                        error=f"{type(exc).__name__}: {exc}",
                        retry_in_s=backoff_s,
                    )
                    await _first(asyncio.sleep(backoff_s), stop_wait)
                    continue
                backoff_s = 0.0
                for message in messages:
                    task = asyncio.create_task(self._handle(processor, spec, queue, message))
                    tasks.add(task)
                    task.add_done_callback(finished)
                self.stats[spec.name].in_flight = len(tasks)
                if not messages and wait_s == 0:
                    await _first(asyncio.sleep(1.0), stop_wait)  # no long poll: do not spin
        finally:
            stop_wait.cancel()

    async def _handle(
        self,
        processor: MessageProcessor,
        spec: HandlerSpec[EventPayload],
        queue: BoundQueue,
        message: Mapping[str, object],
    ) -> None:
        try:
            await processor.process(spec, queue, message, self.stats[spec.name])
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in the runtime itself: the message is left for redelivery
            log.exception("worker.process_crashed", handler=spec.name, queue=queue.name)

    async def _drain(self) -> None:
        pending = {t for tasks in self._tasks.values() for t in tasks}
        timeout = self._settings.worker_drain_timeout_seconds
        log.info("worker.draining", in_flight=len(pending), timeout_s=timeout)
        if pending:
            _, still = await asyncio.wait(pending, timeout=timeout)
            if still:
                log.warning("worker.drain_timeout", cancelled=len(still), timeout_s=timeout)
                await self._cancel_in_flight()
        log.info("worker.stopped", stats={k: vars(v) for k, v in self.stats.items()})

    async def _cancel_in_flight(self) -> None:
        pending = [t for tasks in self._tasks.values() for t in tasks]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def _first(aw: Awaitable[object], stop_wait: asyncio.Task[bool]) -> None:
    """Wait for ``aw`` or ``stop_wait``, whichever comes first; cancel ``aw`` if it lost."""
    task = asyncio.ensure_future(aw)
    try:
        await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
