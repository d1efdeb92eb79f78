"""Per-message outcomes of the worker against the real moto server.

Redelivery after the visibility timeout, redrive to the DLQ, poison messages,
Retryable and Permanent, bounded concurrency, duplicates, heartbeats, and
follow-up events published only after success.
"""

from __future__ import annotations

import asyncio
import json

from avs_runtime_testkit import Calls, Kit, anime_new, eventually, spec

from avs_shared.adapters.dynamo_idempotency import DynamoIdempotencyStore
from avs_shared.errors import Permanent, Retryable
from avs_shared.events.envelope import Envelope, derive_event_id
from avs_shared.events.types import AnimeNew, ImageRequested, RequestedImage
from avs_shared.runtime import MessageContext
from avs_shared.topology import Q_ENRICHER_ANIME_NEW, Q_IMAGE_REQUESTED, TOPIC_ANIME_NEW

Q = Q_ENRICHER_ANIME_NEW
DLQ = f"{Q}-dlq"
NAME = "test-enricher"


def key(env: Envelope) -> str:
    return f"{NAME}#{env.event_id}"


async def test_failed_message_is_redelivered_after_the_visibility_timeout_then_succeeds(kit: Kit) -> None:
    await kit.tune_queue(Q, visibility_timeout_s=1, max_receive_count=3)
    calls = Calls()

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        calls.add(ctx)
        if len(calls) == 1:
            raise RuntimeError("provider hiccup")
        return []

    worker = kit.worker(spec(handle))
    env = anime_new().envelope()
    await kit.send(env)
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].processed == 1)

    assert calls.seen == [(env.event_id, 1), (env.event_id, 2)]
    assert calls.at[1] - calls.at[0] >= 0.9, "came back before the visibility timeout"
    assert worker.stats[NAME].failed == 1
    assert await kit.depth(Q) == 0
    assert await kit.depth(DLQ) == 0
    assert await kit.idempotency.status(key(env)) == "COMPLETED"


async def test_message_that_always_fails_lands_in_its_dlq_after_max_receive_count(kit: Kit) -> None:
    await kit.tune_queue(Q, visibility_timeout_s=1, max_receive_count=2)
    calls = Calls()

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        calls.add(ctx)
        raise RuntimeError("always broken")

    worker = kit.worker(spec(handle))
    env = anime_new().envelope()
    await kit.send(env)

    async def dead_lettered() -> bool:
        return await kit.depth(DLQ) == 1

    async with kit.running(worker):
        await eventually(dead_lettered, within=20)

    assert [rc for _, rc in calls.seen] == [1, 2]
    assert await kit.depth(Q) == 0
    (dead,) = await kit.drain_queue(DLQ)
    assert Envelope.from_json(dead["Body"]).event_id == env.event_id
    assert await kit.idempotency.status(key(env)) is None, "each failure released its claim"


async def test_malformed_messages_go_to_the_dlq_at_once_with_the_reason(kit: Kit) -> None:
    await kit.tune_queue(Q, visibility_timeout_s=1, max_receive_count=3)
    calls = Calls()

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        calls.add(ctx)
        return []

    good = anime_new().envelope()
    bad_payload = good.model_copy(update={"event_id": "bad-payload", "payload": {"anime_id": ""}})
    wrong_type = ImageRequested(
        anime_id="a1", images=[RequestedImage(url="https://x/y.jpg", kind="cover")]
    ).envelope(event_id="wrong-type")
    cases = {
        "not json {": ("JSONDecodeError", "not JSON"),
        json.dumps({"event_id": "no-type"}): ("ValidationError", "invalid envelope"),
        bad_payload.to_json(): ("ValidationError", "invalid anime-new payload"),
        wrong_type.to_json(): ("EventTypeMismatch", "image-requested"),
    }
    for body in cases:
        await kit.send(body)
    # and one through SNS (raw delivery: the body is the bad envelope itself)
    sns = await kit.aws.client("sns")
    sns_bad = bad_payload.model_copy(update={"event_id": "bad-payload-sns"}).to_json()
    await sns.publish(TopicArn=await kit.publisher.topic_arn(TOPIC_ANIME_NEW), Message=sns_bad)

    worker = kit.worker(spec(handle))
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].dead_lettered == 5)

    assert calls.seen == []
    assert await kit.depth(Q) == 0
    dead = await kit.drain_queue(DLQ)
    assert len(dead) == 5
    for msg in dead:
        attrs = {k: v["StringValue"] for k, v in msg["MessageAttributes"].items()}
        assert attrs["source_queue"] == Q
        assert attrs["receive_count"] == "1", "dead-lettered on the first receive, no retries"
        if msg["Body"] in cases:
            error_type, reason_part = cases[msg["Body"]]
        else:
            assert msg["Body"] == sns_bad
            error_type, reason_part = "ValidationError", "invalid anime-new payload"
        assert attrs["error_type"] == error_type
        assert reason_part in attrs["error_reason"]


async def test_permanent_error_from_the_handler_dead_letters_at_once(kit: Kit) -> None:
    calls = Calls()

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        calls.add(ctx)
        raise Permanent("no provider knows this anime")

    worker = kit.worker(spec(handle))
    env = anime_new().envelope()
    await kit.send(env)
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].dead_lettered == 1)

    assert len(calls) == 1
    (dead,) = await kit.drain_queue(DLQ)
    attrs = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attrs["error_type"] == "Permanent"
    assert "no provider knows this anime" in attrs["error_reason"]
    assert attrs["receive_count"] == "1"
    assert await kit.depth(Q) == 0
    assert await kit.idempotency.status(key(env)) is None, "a dead-lettered message keeps no claim"


async def test_retryable_comes_back_after_retry_after_not_the_visibility_timeout(kit: Kit) -> None:
    # The queue keeps its provisioned 300 s visibility timeout: only the runtime's
    # ChangeMessageVisibility can bring the message back within seconds.
    calls = Calls()

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        calls.add(ctx)
        if len(calls) == 1:
            raise Retryable("rate limited", retry_after_s=1)
        return []

    worker = kit.worker(spec(handle))
    env = anime_new().envelope()
    await kit.send(env)
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].processed == 1, within=10)

    assert [rc for _, rc in calls.seen] == [1, 2]
    assert 0.9 <= calls.at[1] - calls.at[0] < 10
    assert worker.stats[NAME].retried == 1
    assert await kit.depth(Q) == 0


async def test_handlers_run_in_parallel_up_to_the_concurrency_bound(kit: Kit) -> None:
    running = 0
    peak = 0

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.3)
        finally:
            running -= 1
        return []

    for _ in range(10):
        await kit.send(anime_new().envelope())
    worker = kit.worker(spec(handle, concurrency=4))
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].processed == 10)

    assert peak == 4
    assert await kit.depth(Q) == 0


async def test_the_same_event_delivered_twice_has_one_effect(kit: Kit) -> None:
    effects: list[str] = []

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        effects.append(ctx.envelope.event_id)
        await asyncio.sleep(0.2)
        return []

    env = anime_new().envelope()
    await kit.send(env)
    await kit.send(env)  # producer retry: same event id, second SQS message
    worker = kit.worker(spec(handle), busy_retry_s=1)
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].processed + worker.stats[NAME].duplicates == 2)
        await kit.send(env)  # and once more, long after the first was done
        await eventually(lambda: worker.stats[NAME].duplicates == 2)

    assert effects == [env.event_id]
    assert await kit.depth(Q) == 0


async def test_long_handler_keeps_its_message_and_its_claim(kit: Kit) -> None:
    # Visibility timeout and lease of 1 s, a handler of 2.5 s: only the heartbeat keeps
    # SQS from handing the message out again and the claim from being taken over.
    await kit.tune_queue(Q, visibility_timeout_s=1, max_receive_count=5)
    effects: list[int] = []
    started = asyncio.Event()

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        effects.append(ctx.receive_count)
        started.set()
        await asyncio.sleep(2.5)
        return []

    worker = kit.worker(spec(handle, lease_s=1), busy_retry_s=0.5)
    env = anime_new().envelope()
    await kit.send(env)
    async with kit.running(worker):
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.sleep(1.2)
        await kit.send(env)  # a twin arrives while the first copy runs past its lease
        await eventually(lambda: worker.stats[NAME].duplicates == 1, within=15)

    assert effects == [1], "ran once: the message stayed hidden and the claim stayed held"
    assert worker.stats[NAME].processed == 1


async def test_follow_up_events_are_published_only_after_success_and_only_once(kit: Kit) -> None:
    await kit.tune_queue(Q, visibility_timeout_s=1, max_receive_count=3)
    calls = Calls()

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        events = [
            ctx.follow_up(
                ImageRequested(
                    anime_id=evt.anime_id, images=[RequestedImage(url=f"https://cdn/{i}.jpg", kind="cover")]
                ),
                i,
            )
            for i in range(3)
        ]
        calls.add(ctx)
        if len(calls) == 1:
            raise RuntimeError("crashed after building the events")
        return events

    worker = kit.worker(spec(handle))
    env = anime_new().envelope()
    await kit.send(env)
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].failed == 1)
        assert await kit.depth(Q_IMAGE_REQUESTED) == 0, "nothing published by the failed run"
        await eventually(lambda: worker.stats[NAME].processed == 1)
        await kit.send(env)  # redelivered after success
        await eventually(lambda: worker.stats[NAME].duplicates == 1)

    published = [Envelope.from_json(m["Body"]) for m in await kit.drain_queue(Q_IMAGE_REQUESTED)]
    assert sorted(e.event_id for e in published) == sorted(
        derive_event_id(env.event_id, NAME, str(i)) for i in range(3)
    )
    assert {e.correlation_id for e in published} == {env.correlation_id}
    assert len(calls) == 2


class DiesBeforeCompleting(DynamoIdempotencyStore):
    """The real store, except that the first ``complete`` fails as if the process died."""

    died = False

    async def complete(self, key: str) -> None:
        if not self.died:
            self.died = True
            raise ConnectionError("process died before marking COMPLETED")
        await super().complete(key)


async def test_rerun_after_a_crash_between_publish_and_completion_republishes_the_same_ids(kit: Kit) -> None:
    await kit.tune_queue(Q, visibility_timeout_s=1, max_receive_count=3)

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        return [
            ctx.follow_up(
                ImageRequested(
                    anime_id=evt.anime_id, images=[RequestedImage(url="https://cdn/a.jpg", kind="cover")]
                )
            )
        ]

    store = DiesBeforeCompleting(kit.aws, ttl_s=kit.settings.idempotency_ttl_seconds)
    worker = kit.worker(spec(handle), idempotency=store)
    env = anime_new().envelope()
    await kit.send(env)
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].processed == 1)

    published = [Envelope.from_json(m["Body"]) for m in await kit.drain_queue(Q_IMAGE_REQUESTED)]
    assert len(published) == 2, "published by the crashed run and by the rerun"
    assert {e.event_id for e in published} == {derive_event_id(env.event_id, NAME, "0")}
    assert worker.stats[NAME].failed == 1
    assert await store.status(key(env)) == "COMPLETED"
