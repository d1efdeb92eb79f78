"""The whole loop on one running system (``stack``): offline file → sync → ``anime-new`` →
enrichment → review task → decision through the HTTP API → live entry, searchable, with
re-hosted images; and what happens on rejection, timeout, duplicates and a provider
outage; and that one anime's journey is one trace."""

from __future__ import annotations

import json
import re
from typing import Any

from e2e_kit import (
    CDN_DOMAIN,
    E2E_ANIME,
    REVIEW_TIMEOUT_S,
    Stack,
    SwitchableTracerProvider,
    anime_id,
    eventually,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider

from avs_enricher.bootstrap import ANIME_NEW_HANDLER
from avs_shared.events import AnimeNew, derive_event_id
from avs_shared.schema import AnimeEntry, image_urls
from avs_shared.topology import IMAGES_PREFIX, UPDATED_ENTRIES_PREFIX

CDN_IMAGE = re.compile(rf"^https://{re.escape(CDN_DOMAIN)}/images/[0-9a-f]{{64}}\.png$")


def all_image_urls(doc: dict[str, Any]) -> list[str]:
    return [ref.url for ref in image_urls(AnimeEntry.from_json_dict(doc))]


async def test_a_new_anime_goes_from_the_offline_file_to_search_with_cdn_images(stack: Stack) -> None:
    anime = E2E_ANIME["approved"]
    key = anime_id(anime)

    summary = await stack.sync(anime)
    assert (summary.new, summary.locked_elsewhere, summary.orphaned) == (1, 0, 0), summary

    task = await stack.review_task(anime)
    assert (task["kind"], task["source"], task["title"]) == ("new", "stepfunctions", anime.title)
    shown = (await stack.api("GET", f"/review/api/tasks/{task['task_id']}")).json()
    proposal = shown["entry"]
    assert shown["live_entry"] is None and shown["base_version"] == 0
    # Enriched, not just the offline record: every provider answered.
    assert proposal["title_english"] == anime.title_english
    assert proposal["synopsis"] and proposal["characters"] and proposal["episode_details"]
    providers = proposal["enrichment_metadata"]["providers"]
    assert {p: v["status"] for p, v in providers.items()} == dict.fromkeys(providers, "ok"), providers
    assert set(providers) == {"jikan", "anilist", "kitsu", "anidb", "animeschedule"}
    source_images = all_image_urls(proposal)
    assert source_images and all(u.startswith(stack.images.base) for u in source_images), source_images
    # The review holds the anime's lock.
    lock = await stack.lock(anime)
    assert lock is not None and lock["review_execution"]["S"] in task["execution_arn"]

    # A stale copy in the API's cache, which the commit must drop.
    stale = json.dumps({"id": key, "title": "stale copy"}).encode()
    await stack.cache.set(f"anime:{key}", stale, ttl_s=3600)

    decided = await stack.approve(task, base_version=0)
    assert (decided["status"], decided["decided_by"]) == ("approved", "rita")

    entry = await stack.committed(anime)  # the lock is gone: the commit finished
    assert (entry.title, entry.title_english) == (anime.title, anime.title_english)
    # Version 1 is the commit; the image ingestor writes version 2 if it finishes after it.
    assert entry.version in (1, 2)
    await stack.execution(task["execution_arn"], status="SUCCEEDED")
    [point] = await stack.index.get([key])
    assert point.payload is not None and point.payload["title"] == anime.title
    audit = json.loads((await stack.objects.get(f"{UPDATED_ENTRIES_PREFIX}{key}.json")).body)
    assert (audit["id"], audit["title"]) == (key, anime.title) and audit["version"] in (1, 2)
    assert await stack.cache.get(f"anime:{key}") is None, "the commit invalidates the cached entry"

    found = await stack.api("GET", "/search/semantic", key=None, params={"q": anime.title})
    assert found.status_code == 200, found.text
    assert found.json()["items"][0]["anime_id"] == key

    # Every image re-hosted: GET /anime shows the CDN URLs, named by the bytes' SHA-256.
    expected = stack.expected_cdn_urls(AnimeEntry.from_json_dict(proposal))

    async def rehosted() -> dict[str, Any] | None:
        response = await stack.api("GET", f"/anime/{key}", key=None)
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        return doc if set(all_image_urls(doc)) == expected else None

    live = await eventually(rehosted)
    assert live["title"] == anime.title and live["version"] >= 1
    assert all(CDN_IMAGE.match(u) for u in all_image_urls(live))
    for url in expected:
        assert await stack.objects.head(IMAGES_PREFIX + url.rsplit("/", 1)[1]) is not None
    assert all(stack.images.hits[u.removeprefix(stack.images.base)] >= 1 for u in source_images)

    # Result lists show the re-hosted cover too (the search payload's image).
    async def payload_image() -> str | None:
        [point] = await stack.index.get([key])
        image = (point.payload or {}).get("image")
        return image if isinstance(image, str) and image in expected else None

    assert CDN_IMAGE.match(await eventually(payload_image))
    stack.source.keep(anime)


async def test_a_rejected_anime_releases_its_lock_and_nothing_goes_live(stack: Stack) -> None:
    anime = E2E_ANIME["rejected"]
    assert (await stack.sync(anime)).new == 1
    task = await stack.review_task(anime)

    decided = await stack.reject(task, "the synopsis belongs to another show")
    assert (decided["status"], decided["decision_reason"]) == (
        "rejected",
        "the synopsis belongs to another show",
    )

    execution = await stack.execution(task["execution_arn"], status="FAILED")
    assert execution["error"] == "Rejected", execution
    await stack.lock_released(anime)
    await stack.nothing_live(anime)
    assert await stack.tasks_of(anime) == []


async def test_a_review_nobody_decides_times_out_and_releases_its_lock(stack: Stack) -> None:
    anime = E2E_ANIME["timed-out"]
    assert (await stack.sync(anime)).new == 1
    task = await stack.review_task(anime)
    assert await stack.lock(anime) is not None

    # No decision (and no heartbeat) within the review timeout: the execution ends and frees the lock.
    execution = await stack.execution(task["execution_arn"], status="FAILED", within=REVIEW_TIMEOUT_S + 60)
    assert execution["error"] == "ReviewTimedOut", execution
    await stack.lock_released(anime)
    await stack.nothing_live(anime)
    # The reviewer who comes too late is told, and nothing is sent.
    late = await stack.api("POST", f"/review/api/tasks/{task['task_id']}/approve", json={})
    assert late.status_code == 410, late.text
    error = late.json()["error"]
    assert error["code"] == "review_expired" and "Nothing was sent" in error["message"], error
    assert await stack.tasks_of(anime) == [], "the task is closed as expired"
    await stack.nothing_live(anime)


async def test_an_anime_announced_twice_gets_one_review(stack: Stack) -> None:
    anime = E2E_ANIME["announced-twice"]
    key = anime_id(anime)
    summary = await stack.sync(anime)
    assert summary.new == 1
    task = await stack.review_task(anime)

    # The sync's event delivered again, and the same anime announced by another event.
    stats = stack.worker.stats[ANIME_NEW_HANDLER]
    await eventually(lambda: _true(stats.in_flight == 0))  # the sync's own event is finished
    processed, duplicates = stats.processed, stats.duplicates
    record = stack.source.record(anime)
    payload = AnimeNew(anime_id=key, sources=record["sources"], offline_record=record, reason="new")
    again = payload.envelope(event_id=derive_event_id("anime-new", "new", key, str(summary.version)))
    other = payload.envelope(event_id=derive_event_id("anime-new", "new", key, "another-announcement"))
    for envelope in (again, other):
        await stack.ctx.publisher.publish(envelope)

    async def both_handled() -> bool:
        # The redelivery is recognised by its id; the other event finds the anime under review.
        return stats.duplicates == duplicates + 1 and stats.processed == processed + 1

    await eventually(both_handled)
    assert [t["task_id"] for t in await stack.tasks_of(anime)] == [task["task_id"]]
    assert len(await stack.executions_of(anime)) == 1
    lock = await stack.lock(anime)
    assert lock is not None and lock["review_execution"]["S"] in task["execution_arn"]

    await stack.reject(task, "cleaning up after the duplicate check")
    await stack.lock_released(anime)


async def test_a_provider_outage_still_sends_the_offline_record_to_review(stack: Stack) -> None:
    anime = E2E_ANIME["outage"]
    stack.providers.fail_all("error500")
    try:
        summary = await stack.sync(anime)
        assert (summary.new, summary.unchanged, summary.review_requests) == (1, 1, 0), summary
        task = await stack.review_task(anime)
    finally:
        stack.providers.heal()

    assert task["details"]["offline_only"] is True
    assert "no provider answered" in task["reason"]
    shown = (await stack.api("GET", f"/review/api/tasks/{task['task_id']}")).json()
    proposal = shown["entry"]
    meta = proposal["enrichment_metadata"]
    assert (meta["source"], meta["offline_only"], meta["success"]) == ("offline-record", True, False)
    assert {v["status"] for v in meta["providers"].values()} == {"failed"}
    assert proposal["title"] == anime.title and proposal.get("title_english") is None
    record = stack.source.record(anime)
    assert all_image_urls(proposal) == [record["picture"]]

    await stack.approve(task)
    entry = await stack.committed(anime)
    assert entry.enrichment_metadata is not None and entry.enrichment_metadata.source == "offline-record"
    assert entry.title_english is None and entry.title == anime.title
    stack.source.keep(anime)


async def _true(value: bool) -> bool:
    return value


# ------------------------------------------------------------------------------- one trace
def _by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def _parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_one_anime_journey_is_one_trace(stack: Stack, trace_switch: SwitchableTracerProvider) -> None:
    anime = E2E_ANIME["traced"]
    key = anime_id(anime)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_switch.target = provider
    try:
        summary = await stack.sync(anime)
        # The anime that went live earlier are in the file, unchanged: they start nothing.
        assert (summary.new, summary.unchanged, summary.review_requests) == (1, 2, 0), summary
        task = await stack.review_task(anime)
        await stack.approve(task)
        await stack.committed(anime)

        def journey() -> list[ReadableSpan]:
            [root] = [s for s in exporter.get_finished_spans() if s.name == "sync" and s.parent is None]
            return [s for s in exporter.get_finished_spans() if s.context.trace_id == root.context.trace_id]

        async def complete() -> list[ReadableSpan] | None:
            spans = journey()
            names = {s.name for s in spans}
            wanted = {"indexer-entry-approved process", "image-ingestor-image-requested process"}
            return spans if wanted <= names else None

        spans: list[ReadableSpan] = await eventually(complete)
    finally:
        trace_switch.target = NoOpTracerProvider()
    stack.source.keep(anime)

    [root] = _by_name(spans, "sync")
    [published] = _by_name(spans, "anime-new publish")
    [enricher] = _by_name(spans, "enricher-anime-new process")
    [review] = _by_name(spans, "enrichment-review start")
    [intake] = _by_name(spans, "api-review-intake process")
    [indexer] = _by_name(spans, "indexer-entry-approved process")
    [images_published] = _by_name(spans, "image-requested publish")
    [images] = _by_name(spans, "image-ingestor-image-requested process")
    # Everything the anime went through hangs together: sync → SNS → enricher → Step
    # Functions (the review request and the approval carry the context) → intake, indexer.
    assert _parent_of(root) is None
    assert _parent_of(published) == root.context.span_id
    assert _parent_of(enricher) == published.context.span_id
    assert _parent_of(review) == enricher.context.span_id
    assert _parent_of(intake) == review.context.span_id
    assert _parent_of(indexer) == review.context.span_id
    assert _parent_of(images_published) == enricher.context.span_id
    assert _parent_of(images) == images_published.context.span_id
    assert review.attributes is not None and review.attributes["avs.anime_id"] == key
    assert enricher.attributes is not None and indexer.attributes is not None
    assert enricher.attributes["avs.outcome"] == indexer.attributes["avs.outcome"] == "processed"
    assert len({s.context.trace_id for s in spans}) == 1
    # The Step Functions hop: the review task keeps the request's trace context, and the
    # entry-approved event the execution publishes carries it on (the indexer's parent above).
    assert task["trace"]["traceparent"].split("-")[1] == format(root.context.trace_id, "032x")
