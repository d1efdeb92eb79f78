"""Helpers for the worker-runtime tests: send, peek, run a worker until a condition holds.

Everything talks to the real moto server through the session's ``AwsClients``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_idempotency import DynamoIdempotencyStore
from avs_shared.adapters.sns import SnsPublisher
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.events.envelope import Envelope
from avs_shared.events.types import AnimeNew, EventPayload
from avs_shared.runtime import HandlerSpec, MessageContext, Worker, build_runtime
from avs_shared.settings import ServiceSettings
from avs_shared.topology import Q_ENRICHER_ANIME_NEW, TOPOLOGY


def anime_new(anime_id: str | None = None, **extra: Any) -> AnimeNew:
    return AnimeNew(
        anime_id=anime_id or str(uuid.uuid4()),
        sources=["https://myanimelist.net/anime/1"],
        offline_record={"title": "Cowboy Bebop", **extra},
    )


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], *, within: float = 15.0, every: float = 0.05
) -> None:
    """Wait until ``check()`` is true; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(every)


@dataclass
class Calls:
    """What a test handler saw: one entry per invocation."""

    seen: list[tuple[str, int]] = field(default_factory=list)  # (event_id, receive_count)
    at: list[float] = field(default_factory=list)

    def add(self, ctx: MessageContext) -> None:
        self.seen.append((ctx.envelope.event_id, ctx.receive_count))
        self.at.append(time.monotonic())

    def __len__(self) -> int:
        return len(self.seen)


@dataclass
class Kit:
    aws: AwsClients
    settings: ServiceSettings
    publisher: SnsPublisher
    idempotency: DynamoIdempotencyStore
    claim_check: ClaimCheck

    async def url(self, queue: str) -> str:
        sqs = await self.aws.client("sqs")
        return str((await sqs.get_queue_url(QueueName=queue))["QueueUrl"])

    async def tune_queue(
        self, queue: str, *, visibility_timeout_s: int | None = None, max_receive_count: int | None = None
    ) -> None:
        """Shorten a provisioned queue's timings so redelivery tests run in seconds."""
        sqs = await self.aws.client("sqs")
        url = await self.url(queue)
        attrs: dict[str, str] = {}
        if visibility_timeout_s is not None:
            attrs["VisibilityTimeout"] = str(visibility_timeout_s)
        if max_receive_count is not None:
            current = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]))[
                "Attributes"
            ]
            policy = json.loads(current["RedrivePolicy"])
            policy["maxReceiveCount"] = max_receive_count
            attrs["RedrivePolicy"] = json.dumps(policy)
        await sqs.set_queue_attributes(QueueUrl=url, Attributes=attrs)

    async def send(
        self,
        body: str | Envelope,
        *,
        queue: str = Q_ENRICHER_ANIME_NEW,
        attributes: dict[str, str] | None = None,
    ) -> None:
        """Send straight to SQS (as Step Functions or the scheduler would)."""
        sqs = await self.aws.client("sqs")
        text = body.to_json() if isinstance(body, Envelope) else body
        kwargs: dict[str, Any] = {"QueueUrl": await self.url(queue), "MessageBody": text}
        if attributes:
            kwargs["MessageAttributes"] = {
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            }
        await sqs.send_message(**kwargs)

    async def drain_queue(self, queue: str) -> list[dict[str, Any]]:
        """Receive (and delete) every message currently visible in ``queue``."""
        sqs = await self.aws.client("sqs")
        url = await self.url(queue)
        found: list[dict[str, Any]] = []
        while True:
            resp = await sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch = resp.get("Messages", [])
            if not batch:
                return found
            for msg in batch:
                found.append(msg)
                await sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])

    async def depth(self, queue: str) -> int:
        """Visible plus in-flight messages of ``queue``."""
        sqs = await self.aws.client("sqs")
        attrs = (
            await sqs.get_queue_attributes(
                QueueUrl=await self.url(queue),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def worker(self, *specs: HandlerSpec[EventPayload], **kwargs: Any) -> Worker:
        return Worker(
            list(specs),
            aws=self.aws,
            settings=self.settings,
            publisher=kwargs.pop("publisher", self.publisher),
            idempotency=kwargs.pop("idempotency", self.idempotency),
            claim_check=self.claim_check,
            **kwargs,
        )

    @asynccontextmanager
    async def running(self, worker: Worker) -> AsyncIterator[asyncio.Event]:
        """Run ``worker`` in the background; on exit stop it and wait for its drain."""
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            yield stop
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)


async def make_kit(aws: AwsClients, settings: ServiceSettings) -> Kit:
    publisher, idempotency, claim_check = await build_runtime(aws, settings, topology=TOPOLOGY)
    return Kit(aws, settings, publisher, idempotency, claim_check)


def spec(
    handle: Callable[[AnimeNew, MessageContext], Awaitable[Sequence[Envelope]]],
    *,
    name: str = "test-enricher",
    concurrency: int = 8,
    lease_s: int | None = None,
) -> HandlerSpec[AnimeNew]:
    return HandlerSpec(
        name=name,
        queue=Q_ENRICHER_ANIME_NEW,
        payload_type=AnimeNew,
        handle=handle,
        concurrency=concurrency,
        lease_s=lease_s,
    )
