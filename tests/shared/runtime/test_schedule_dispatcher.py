"""The local schedule dispatcher against moto's EventBridge Scheduler and SQS: due one-time
schedules reach their queue once, everything else is left alone."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.runtime.schedule_dispatcher import ScheduleDispatcher, parse_at
from avs_shared.topology import Q_ENRICHER_EPISODE_UPDATE, Q_REVIEW_REQUESTS, SCHEDULE_GROUP_EPISODES

GROUP = SCHEDULE_GROUP_EPISODES
T0 = datetime(2025, 9, 5, 15, 30, tzinfo=UTC)


async def queue_arn(aws: AwsClients, name: str) -> str:
    sqs = await aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


async def create(
    aws: AwsClients,
    name: str,
    expression: str,
    *,
    target: str | None = None,
    body: str = '{"n": 1}',
    after: str = "DELETE",
    zone: str = "UTC",
    max_age_s: int = 86_400,
) -> None:
    scheduler = await aws.client("scheduler")
    arn = target or await queue_arn(aws, Q_ENRICHER_EPISODE_UPDATE)
    await scheduler.create_schedule(
        Name=name,
        GroupName=GROUP,
        ScheduleExpression=expression,
        ScheduleExpressionTimezone=zone,
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion=after,
        Target={
            "Arn": arn,
            "RoleArn": "arn:aws:iam::123456789012:role/anime-episode-scheduler",
            "Input": body,
            "RetryPolicy": {"MaximumEventAgeInSeconds": max_age_s, "MaximumRetryAttempts": 3},
        },
    )


async def bodies(aws: AwsClients, queue: str) -> list[str]:
    sqs = await aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]
    found: list[str] = []
    while True:
        batch = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(message["Body"])
            await sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


async def states(aws: AwsClients) -> dict[str, str]:
    scheduler = await aws.client("scheduler")
    listed = await scheduler.list_schedules(GroupName=GROUP)
    return {s["Name"]: s["State"] for s in listed.get("Schedules", [])}


def test_at_expressions() -> None:
    assert parse_at("at(2025-09-05T15:30:00)") == T0
    assert parse_at("at(2025-09-06T00:30:00)", "Asia/Tokyo") == T0
    assert parse_at("rate(5 minutes)") is None and parse_at("cron(0 1 * * ? *)") is None


async def test_due_schedules_are_delivered_once_and_the_rest_left_alone(
    provisioned: Provisioner, aws: AwsClients
) -> None:
    await create(aws, "due-utc", "at(2025-09-05T15:30:00)", body='{"due": "utc"}')
    await create(aws, "due-jst", "at(2025-09-06T00:29:00)", zone="Asia/Tokyo", body='{"due": "jst"}')
    await create(aws, "later", "at(2025-09-05T16:00:00)", body='{"later": true}')
    await create(aws, "keep-after", "at(2025-09-05T15:00:00)", after="NONE", body='{"kept": true}')
    await create(aws, "too-old", "at(2025-09-05T10:00:00)", max_age_s=3600, body='{"old": true}')
    await create(aws, "recurring", "rate(5 minutes)")
    await create(aws, "to-review", "at(2025-09-05T15:00:00)", target=await queue_arn(aws, Q_REVIEW_REQUESTS))
    await create(
        aws, "not-sqs", "at(2025-09-05T15:00:00)", target="arn:aws:lambda:us-east-1:123456789012:function:f"
    )
    dispatcher = ScheduleDispatcher(aws)

    report = await dispatcher.dispatch_due(T0)

    assert sorted(report.delivered) == [
        f"{GROUP}/{n}" for n in ("due-jst", "due-utc", "keep-after", "to-review")
    ]
    assert report.expired == [f"{GROUP}/too-old"] and report.pending == 1
    assert sorted(json.loads(b).get("due", "kept") for b in await bodies(aws, Q_ENRICHER_EPISODE_UPDATE)) == [
        "jst",
        "kept",
        "utc",
    ]
    assert await bodies(aws, Q_REVIEW_REQUESTS) == ['{"n": 1}']
    remaining = await states(aws)
    assert remaining == {
        "later": "ENABLED",
        "keep-after": "DISABLED",
        "recurring": "ENABLED",
        "not-sqs": "ENABLED",
    }

    again = await dispatcher.dispatch_due(T0)
    assert again.delivered == [] and await bodies(aws, Q_ENRICHER_EPISODE_UPDATE) == []

    fresh = ScheduleDispatcher(aws)  # a restarted runner: nothing cached, nothing re-sent
    assert (await fresh.dispatch_due(T0)).delivered == []
    later = await fresh.dispatch_due(datetime(2025, 9, 5, 16, 0, tzinfo=UTC))
    assert later.delivered == [f"{GROUP}/later"]
    assert await bodies(aws, Q_ENRICHER_EPISODE_UPDATE) == ['{"later": true}']

    nothing = await ScheduleDispatcher(aws, groups=["no-such-group"]).dispatch_due(T0)
    assert nothing.delivered == [] and nothing.pending == 0  # a missing group is not fatal


async def test_the_loop_delivers_on_its_own_and_stops_when_asked(
    provisioned: Provisioner, aws: AwsClients
) -> None:
    clock: dict[str, Any] = {"now": datetime(2025, 9, 5, 15, 0, tzinfo=UTC)}
    await create(aws, "soon", "at(2025-09-05T15:30:00)", body='{"soon": true}')
    stop = asyncio.Event()
    dispatcher = ScheduleDispatcher(aws, poll_interval_s=0.05, clock=lambda: clock["now"])
    task = asyncio.create_task(dispatcher.run(stop))
    await asyncio.sleep(0.2)
    assert await bodies(aws, Q_ENRICHER_EPISODE_UPDATE) == []
    clock["now"] = T0
    found: list[str] = []
    for _ in range(100):
        found += await bodies(aws, Q_ENRICHER_EPISODE_UPDATE)
        if found:
            break
        await asyncio.sleep(0.05)
    assert found == ['{"soon": true}']
    stop.set()
    await asyncio.wait_for(task, timeout=5)


def test_an_impossible_date_is_not_a_schedule_to_fire() -> None:
    assert parse_at("at(2025-13-01T00:00:00)") is None
    assert parse_at("at(2025-09-05T15:30:00)", "Nowhere/Unknown") is None
