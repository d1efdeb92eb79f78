"""The enricher's handlers on moto and the fakes: anime-new end to end through the worker,
duplicates, provider outage, and episode mode."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from avs_enricher.bootstrap import ANIME_NEW_HANDLER, EPISODE_UPDATE_HANDLER, all_specs
from avs_enricher.handlers import on_anime_new, on_episode_update
from avs_enricher.ports import EnricherPorts
from avs_enricher.review import STAGED_PREFIX
from avs_enricher.testing.catalogue import HARBOR, STARLIGHT
from avs_enricher.testing.fake_providers import FakeProviders
from avs_shared.adapters.aws import AwsClients
from avs_shared.errors import Permanent, Retryable
from avs_shared.events import AnimeNew, EpisodeUpdate, EventPayload, ImageRequested
from avs_shared.runtime import Worker
from avs_shared.runtime.spec import MessageContext
from avs_shared.schema import AnimeEntry, OfflineRecord
from avs_shared.topology import (
    BUCKET,
    Q_ENRICHER_ANIME_NEW,
    Q_ENRICHER_EPISODE_UPDATE,
    Q_IMAGE_REQUESTED,
    Q_REVIEW_REQUESTS,
    T_LOCKS,
)

STARLIGHT_ID = "7c1d0d5e-8a53-5b5f-9a4e-0d9b8e7f6a01"
HARBOR_ID = "7c1d0d5e-8a53-5b5f-9a4e-0d9b8e7f6a02"


def anime_new(anime: Any = STARLIGHT, anime_id: str = STARLIGHT_ID) -> AnimeNew:
    return AnimeNew(anime_id=anime_id, sources=anime.sources(), offline_record=anime.offline_record())


def context(
    event: EventPayload, event_id: str, queue: str, handler: str, receive_count: int = 1
) -> MessageContext:
    return MessageContext(
        envelope=event.envelope(event_id=event_id, correlation_id=f"corr-{event_id}"),
        receive_count=receive_count,
        queue=queue,
        handler=handler,
    )


def new_context(event: AnimeNew, event_id: str) -> MessageContext:
    return context(event, event_id, Q_ENRICHER_ANIME_NEW, ANIME_NEW_HANDLER)


async def executions(aws: AwsClients) -> list[dict[str, Any]]:
    sfn = await aws.client("stepfunctions")
    machines = (await sfn.list_state_machines())["stateMachines"]
    found = (await sfn.list_executions(stateMachineArn=machines[0]["stateMachineArn"]))["executions"]
    out = []
    for execution in found:
        described = await sfn.describe_execution(executionArn=execution["executionArn"])
        out.append({**execution, "input": json.loads(described["input"])})
    return out


async def staged(ports: EnricherPorts, key: str) -> AnimeEntry:
    s3 = await ports.aws.client("s3")
    body = await (await s3.get_object(Bucket=BUCKET, Key=key))["Body"].read()
    return AnimeEntry.from_json(body)


async def lock(aws: AwsClients, anime_id: str) -> dict[str, Any] | None:
    ddb = await aws.client("dynamodb")
    item: dict[str, Any] | None = (
        await ddb.get_item(TableName=T_LOCKS, Key={"anime_id": {"S": anime_id}}, ConsistentRead=True)
    ).get("Item")
    return item


async def test_anime_new_end_to_end_through_the_worker(
    ports: EnricherPorts, aws: AwsClients, drain: Any
) -> None:
    await ports.publisher.publish(
        anime_new().envelope(event_id="sync-1-starlight", correlation_id="sync-run-1")
    )
    stop = asyncio.Event()
    worker = Worker(
        all_specs(ports),
        aws=aws,
        settings=ports.settings,
        publisher=ports.publisher,
        idempotency=ports.idempotency,
        claim_check=ports.claim_check,
    )
    running = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(300):
            if worker.stats[ANIME_NEW_HANDLER].processed:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await running
    assert worker.stats[ANIME_NEW_HANDLER].processed == 1

    [execution] = await executions(aws)
    request = execution["input"]
    name = execution["name"]
    assert name.startswith(f"new-{STARLIGHT_ID}-")
    assert request["entry_ref"] == f"{STAGED_PREFIX}{STARLIGHT_ID}/{name}.json"
    assert (request["anime_id"], request["kind"], request["reason"], request["base_version"]) == (
        STARLIGHT_ID,
        "new",
        "new",
        0,
    )
    assert request["lock_owner"] == name and request["correlation_id"] == "sync-run-1"
    assert request["review_queue_url"].endswith(f"/{Q_REVIEW_REQUESTS}")
    assert request["approved_topic_arn"].endswith(":entry-approved")
    assert (request["timeout_seconds"], request["heartbeat_seconds"]) == (604_800, 172_800)
    assert request["details"]["offline_only"] is False
    assert request["details"]["providers"] == dict.fromkeys(
        ("jikan", "anilist", "kitsu", "anidb", "animeschedule"), "ok"
    )

    entry = await staged(ports, request["entry_ref"])
    assert (entry.id, entry.title, entry.title_english) == (
        STARLIGHT_ID,
        STARLIGHT.title,
        "Starlight Courier",
    )
    assert len(entry.episode_details) == 3 and len(entry.characters) == 2

    [image_message] = await drain(Q_IMAGE_REQUESTED)
    images = ImageRequested.model_validate(
        json.loads(image_message["body"])["payload"]  # raw delivery: the envelope itself
    )
    assert images.anime_id == STARLIGHT_ID
    assert {i.kind for i in images.images} == {"cover", "poster", "banner", "character"}
    assert images.urls[0] == entry.images.covers[0]

    held = await lock(aws, STARLIGHT_ID)
    assert held is not None and held["owner"]["S"] == name and held["review_execution"]["S"] == name
    assert int(held["ttl"]["N"]) >= time.time() + 604_800, "held for the whole review"
    for _ in range(100):  # the execution sends the review request from moto's own thread
        reviews = await drain(Q_REVIEW_REQUESTS)
        if reviews:
            break
        await asyncio.sleep(0.1)
    [review] = reviews
    assert json.loads(review["body"])["request"]["entry_ref"] == request["entry_ref"]


async def test_the_review_input_carries_the_handlers_trace(ports: EnricherPorts, aws: AwsClients) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("consume anime-new") as span:
        await on_anime_new(anime_new(), new_context(anime_new(), "traced"), ports=ports)
        trace_id = format(span.get_span_context().trace_id, "032x")

    [execution] = await executions(aws)
    assert execution["input"]["trace"]["traceparent"].split("-")[1] == trace_id


async def test_a_duplicate_anime_new_starts_no_second_review(
    ports: EnricherPorts, aws: AwsClients, drain: Any
) -> None:
    event = anime_new()
    await on_anime_new(event, new_context(event, "sync-1"), ports=ports)
    await on_anime_new(
        event, new_context(event, "sync-1"), ports=ports
    )  # a redelivery past the idempotency record
    await on_anime_new(event, new_context(event, "sync-2"), ports=ports)  # the same anime announced again

    assert len(await executions(aws)) == 1
    assert len(await drain(Q_IMAGE_REQUESTED)) == 2, "the redelivery republishes the same image request"


async def test_an_anime_already_live_gets_no_new_review(ports: EnricherPorts, aws: AwsClients) -> None:
    live = AnimeEntry.from_json_dict(
        {"id": STARLIGHT_ID, "title": "x", "type": "TV", "status": "FINISHED", "sources": []}
    )
    await ports.entries.put(live, expected_version=None)

    assert await on_anime_new(anime_new(), new_context(anime_new(), "late"), ports=ports) == []
    assert await executions(aws) == []


async def test_a_provider_outage_still_sends_the_offline_record_to_review(
    ports: EnricherPorts, aws: AwsClients, fakes: FakeProviders
) -> None:
    fakes.fail_all("error500")

    await on_anime_new(anime_new(), new_context(anime_new(), "outage"), ports=ports)

    [execution] = await executions(aws)
    request = execution["input"]
    assert request["reason"] == "new; no provider answered: the entry is the offline record alone"
    assert request["details"]["offline_only"] is True
    entry = await staged(ports, request["entry_ref"])
    meta = entry.to_json_dict()["enrichment_metadata"]
    assert (meta["source"], meta["offline_only"]) == ("offline-record", True)
    assert entry.title == STARLIGHT.title and entry.synopsis is None


async def test_an_invalid_offline_record_is_dead_lettered(ports: EnricherPorts, aws: AwsClients) -> None:
    event = AnimeNew(
        anime_id=STARLIGHT_ID, sources=STARLIGHT.sources(), offline_record={"title": "no sources"}
    )
    with pytest.raises(Permanent, match="offline_record is not an offline-database record"):
        await on_anime_new(event, new_context(event, "broken"), ports=ports)
    assert await executions(aws) == [] and await lock(aws, STARLIGHT_ID) is None


# ------------------------------------------------------------------ episode mode
async def live_harbor(ports: EnricherPorts, **episode_2: Any) -> AnimeEntry:
    """Harbor Town Diaries as the catalogue holds it, episode 2 as given."""
    record = OfflineRecord.from_json_dict(HARBOR.offline_record())
    entry = (await ports.enricher.enrich(HARBOR_ID, record)).entry
    doc = entry.to_json_dict()
    doc["episode_details"] = [*doc.get("episode_details", [])[:1], {"episode_number": 2, **episode_2}]
    return await ports.entries.put(AnimeEntry.from_json_dict(doc), expected_version=None)


def episode_context(event: EpisodeUpdate, event_id: str, receive_count: int = 1) -> MessageContext:
    return context(event, event_id, Q_ENRICHER_EPISODE_UPDATE, EPISODE_UPDATE_HANDLER, receive_count)


async def test_episode_mode_refreshes_one_episode_and_sends_it_to_review(
    ports: EnricherPorts, aws: AwsClients
) -> None:
    live = await live_harbor(ports, title="TBA", synopsis="Reviewer's note kept.")
    event = EpisodeUpdate(anime_id=HARBOR_ID, episode_number=2)

    await on_episode_update(event, episode_context(event, "schedule-ep2"), ports=ports)

    [execution] = await executions(aws)
    request = execution["input"]
    assert execution["name"].startswith(f"ep2-{HARBOR_ID}-")
    assert (request["kind"], request["base_version"], request["reason"]) == (
        "episode_update",
        live.version,
        "episode 2 refreshed",
    )
    assert request["details"]["episode_number"] == 2
    entry = await staged(ports, request["entry_ref"])
    episode = next(e for e in entry.episode_details if e.episode_number == 2)
    assert episode.title == "The Lighthouse", "the providers' title replaces the stored one"
    assert episode.aired is not None and episode.aired.isoformat() == "2024-01-12T14:30:00+00:00"
    assert episode.synopsis == "Reviewer's note kept.", "what no provider says stays"
    assert episode.duration == 23 * 60
    assert entry.episode_details[0] == live.episode_details[0], "other episodes untouched"
    assert await lock(aws, HARBOR_ID) is None, "an episode review takes no lock"


async def test_an_unchanged_episode_needs_no_review(ports: EnricherPorts, aws: AwsClients) -> None:
    live = await live_harbor(ports, title="TBA")
    event = EpisodeUpdate(anime_id=HARBOR_ID, episode_number=2)
    await on_episode_update(event, episode_context(event, "schedule-ep2"), ports=ports)
    [first] = await executions(aws)
    approved = await staged(ports, first["input"]["entry_ref"])
    await ports.entries.put(approved, expected_version=live.version)  # what the commit of the approval does

    await on_episode_update(event, episode_context(event, "schedule-ep2-again"), ports=ports)

    assert len(await executions(aws)) == 1


async def test_episode_mode_waits_for_the_providers_then_dead_letters(
    ports: EnricherPorts, aws: AwsClients, fakes: FakeProviders
) -> None:
    fakes.fail_all("error500")  # before the live entry is built: nothing cached to fall back on
    await live_harbor(ports, title="TBA")
    event = EpisodeUpdate(anime_id=HARBOR_ID, episode_number=2)

    with pytest.raises(Retryable, match="no provider answered"):
        await on_episode_update(event, episode_context(event, "ep2", receive_count=1), ports=ports)
    with pytest.raises(Permanent, match="replay the message from the DLQ"):
        await on_episode_update(event, episode_context(event, "ep2", receive_count=3), ports=ports)
    assert await executions(aws) == []


async def test_an_episode_of_an_unknown_anime_is_dead_lettered(ports: EnricherPorts) -> None:
    event = EpisodeUpdate(anime_id=HARBOR_ID, episode_number=2)
    with pytest.raises(Permanent, match="no such anime"):
        await on_episode_update(event, episode_context(event, "stale"), ports=ports)


# ------------------------------------------------------------------ premieres of live anime
def premiere(anime_id: str = HARBOR_ID) -> AnimeNew:
    """What the daily scheduler sends for an upcoming anime that premieres within a day."""
    known = {
        "sources": HARBOR.sources(),
        "title": HARBOR.title,
        "type": "TV",
        "status": "UPCOMING",
        "episodes": 12,
    }
    return AnimeNew(
        anime_id=anime_id,
        sources=HARBOR.sources(),
        offline_record={**known, "anime_id": anime_id},
        reason="premiere",
    )


async def upcoming_harbor(ports: EnricherPorts) -> AnimeEntry:
    doc = {
        "id": HARBOR_ID,
        "title": HARBOR.title,
        "type": "TV",
        "status": "UPCOMING",
        "episodes": 12,
        "sources": HARBOR.sources(),
        "synopsis": "Announced: a diary of a harbor town.",
        "external_links": {"fansite": "https://fans.example/harbor"},
        "images": {"covers": ["https://cdn.anime-vector-service.local/images/ab.jpg"]},
    }
    return await ports.entries.put(AnimeEntry.from_json_dict(doc), expected_version=None)


async def test_a_premiere_refreshes_the_live_entry_for_review(ports: EnricherPorts, aws: AwsClients) -> None:
    live = await upcoming_harbor(ports)
    event = premiere()

    await on_anime_new(event, new_context(event, "premiere-2024-01-05"), ports=ports)

    [execution] = await executions(aws)
    request = execution["input"]
    assert (request["kind"], request["base_version"]) == ("status_changed", live.version)
    assert request["reason"] == "premiere: refreshed from the providers (status UPCOMING -> ONGOING)"
    entry = await staged(ports, request["entry_ref"])
    assert entry.status == "ONGOING" and entry.synopsis == HARBOR.synopsis_mal
    assert entry.external_links["fansite"] == "https://fans.example/harbor", "what no provider says stays"
    assert "https://cdn.anime-vector-service.local/images/ab.jpg" not in entry.images.covers
    assert len(entry.episode_details) == 2


async def test_a_premiere_without_providers_changes_nothing_and_frees_the_lock(
    ports: EnricherPorts, aws: AwsClients, fakes: FakeProviders
) -> None:
    await upcoming_harbor(ports)
    fakes.fail_all("error500")
    event = premiere()

    assert await on_anime_new(event, new_context(event, "premiere-down"), ports=ports) == []

    assert await executions(aws) == []
    assert await lock(aws, HARBOR_ID) is None
