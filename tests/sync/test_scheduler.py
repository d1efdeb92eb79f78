"""The daily episode scheduler against moto's EventBridge Scheduler, and the local
dispatcher delivering a due schedule to the enricher's queue."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from avs_sync_testkit import Drain, entry, mal

from avs_shared.adapters.aws import AwsClients
from avs_shared.events import AnimeNew, EpisodeUpdate, derive_event_id
from avs_shared.runtime.inbound import decode
from avs_shared.runtime.schedule_dispatcher import ScheduleDispatcher
from avs_shared.schema import AnimeEntry
from avs_shared.topology import (
    Q_ENRICHER_ANIME_NEW,
    Q_ENRICHER_EPISODE_UPDATE,
    SCHEDULE_GROUP_EPISODES,
)
from avs_sync.ports import SyncPorts
from avs_sync.scheduler import schedule_daily

Seed = Callable[[Sequence[AnimeEntry]], Awaitable[None]]

NOW = datetime(2025, 9, 5, 0, 5, tzinfo=UTC)  # Friday, the cron's 00:05 UTC
SATURDAY_0030_JST = {"day": "Saturdays", "time": "00:30", "timezone": "Asia/Tokyo"}
WEEKLY = "00000000-0000-4000-8000-000000000001"
LISTED = "00000000-0000-4000-8000-000000000002"
MONDAYS = "00000000-0000-4000-8000-000000000003"
ORPHAN = "00000000-0000-4000-8000-000000000004"
PREMIERE = "00000000-0000-4000-8000-000000000005"
LATER = "00000000-0000-4000-8000-000000000006"
DONE = "00000000-0000-4000-8000-000000000007"

ENTRIES = [
    entry(
        WEEKLY,
        "Weekly Show",
        [mal(1)],
        status="ONGOING",
        broadcast=SATURDAY_0030_JST,
        episode_details=[
            {"episode_number": 1, "aired": "2025-08-15T15:30:00Z"},
            {"episode_number": 2, "aired": "2025-08-22T15:30:00Z"},
            {"episode_number": 3, "aired": "2025-08-29T15:30:00Z"},
        ],
    ),
    entry(
        LISTED,
        "Listed Episode",
        [mal(2)],
        status="ONGOING",
        episode_details=[
            {"episode_number": 10, "aired": "2025-08-29T18:00:00Z"},
            {"episode_number": 11, "aired": "2025-09-05T18:00:00Z"},
        ],
    ),
    entry(MONDAYS, "Monday Show", [mal(3)], status="ONGOING", broadcast={"day": "Mondays", "time": "23:00"}),
    entry(
        ORPHAN,
        "Orphaned Show",
        [mal(4)],
        status="ONGOING",
        broadcast=SATURDAY_0030_JST,
        system_status="ORPHANED",
        orphaned_at="2025-08-01T00:00:00Z",
    ),
    entry(
        PREMIERE,
        "Premieres Tonight",
        [mal(5)],
        status="UPCOMING",
        broadcast=SATURDAY_0030_JST,
        premiere_dates={"original": "2025-09-06"},
    ),
    entry(LATER, "Premieres Later", [mal(6)], status="UPCOMING", premiere_dates={"original": "2025-10-01"}),
    entry(DONE, "Finished Show", [mal(7)], broadcast=SATURDAY_0030_JST),
]


async def schedules_in_group(aws: AwsClients) -> dict[str, dict[str, Any]]:
    scheduler = await aws.client("scheduler")
    listed = await scheduler.list_schedules(GroupName=SCHEDULE_GROUP_EPISODES)
    found = {}
    for summary in listed.get("Schedules", []):
        found[summary["Name"]] = await scheduler.get_schedule(
            Name=summary["Name"], GroupName=SCHEDULE_GROUP_EPISODES
        )
    return found


async def test_the_daily_run_schedules_todays_episodes_and_enqueues_todays_premieres(
    ports: SyncPorts, seed: Seed, aws: AwsClients, drain: Drain
) -> None:
    await seed(ENTRIES)

    report = await schedule_daily(ports, now=NOW)

    assert (report.ongoing, report.upcoming) == (3, 2)
    assert (report.scheduled, report.already_scheduled) == (2, 0)
    schedules = await schedules_in_group(aws)
    weekly = schedules[f"animeId-{WEEKLY}-episode-4"]
    # Saturday 00:30 in Japan is Friday 15:30 UTC.
    assert weekly["ScheduleExpression"] == "at(2025-09-05T15:30:00)"
    assert weekly["ScheduleExpressionTimezone"] == "UTC"
    assert weekly["Target"]["Arn"].endswith(f":{Q_ENRICHER_EPISODE_UPDATE}")
    assert weekly["Target"]["RoleArn"].endswith(":role/anime-episode-scheduler")
    assert weekly["ActionAfterCompletion"] == "DELETE"
    envelope = json.loads(weekly["Target"]["Input"])
    assert envelope["event_type"] == "episode-update"
    assert envelope["payload"] == {"anime_id": WEEKLY, "episode_number": 4}
    assert envelope["event_id"] == derive_event_id("episode-update", WEEKLY, "4")
    listed = schedules[f"animeId-{LISTED}-episode-11"]
    assert listed["ScheduleExpression"] == "at(2025-09-05T18:00:00)"
    assert set(schedules) == {f"animeId-{WEEKLY}-episode-4", f"animeId-{LISTED}-episode-11"}

    premieres = await drain(Q_ENRICHER_ANIME_NEW)
    assert len(premieres) == 1
    event = AnimeNew.model_validate(premieres[0].payload)
    assert (event.anime_id, event.reason, event.sources) == (PREMIERE, "premiere", [mal(5)])
    assert event.offline_record["title"] == "Premieres Tonight"
    assert (report.premieres_enqueued, report.premieres_locked) == (1, 0)

    again = await schedule_daily(ports, now=NOW)
    assert (again.scheduled, again.already_scheduled) == (0, 2)
    assert (again.premieres_enqueued, again.premieres_locked) == (0, 1)
    assert await drain(Q_ENRICHER_ANIME_NEW) == []
    assert set(await schedules_in_group(aws)) == set(schedules)


async def test_a_due_schedule_is_delivered_by_the_local_dispatcher_to_the_enricher_queue(
    ports: SyncPorts, seed: Seed, aws: AwsClients, drain: Drain
) -> None:
    await seed(ENTRIES[:2])
    await schedule_daily(ports, now=NOW)
    dispatcher = ScheduleDispatcher(aws)

    early = await dispatcher.dispatch_due(datetime(2025, 9, 5, 15, 0, tzinfo=UTC))
    assert (early.delivered, early.pending) == ([], 2)
    assert await drain(Q_ENRICHER_EPISODE_UPDATE) == []

    due = await dispatcher.dispatch_due(datetime(2025, 9, 5, 15, 31, tzinfo=UTC))
    assert due.delivered == [f"{SCHEDULE_GROUP_EPISODES}/animeId-{WEEKLY}-episode-4"]
    assert due.pending == 1

    sqs = await aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName=Q_ENRICHER_EPISODE_UPDATE))["QueueUrl"]
    messages = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)).get("Messages", [])
    assert len(messages) == 1
    # What the enricher's worker will do with it: the runtime decodes it as an EpisodeUpdate.
    decoded = await decode(messages[0]["Body"], {}, EpisodeUpdate, ports.claim_check)
    assert decoded.payload == EpisodeUpdate(anime_id=WEEKLY, episode_number=4)

    assert set(await schedules_in_group(aws)) == {f"animeId-{LISTED}-episode-11"}  # delivered = deleted
    assert (await dispatcher.dispatch_due(datetime(2025, 9, 5, 15, 32, tzinfo=UTC))).delivered == []
