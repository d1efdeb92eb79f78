"""The weekly sync against the moto server: every branch, asserted on DynamoDB, the vector
payload, the published ``anime-new`` messages and the review requests."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from avs_sync_testkit import Drain, anilist, entry, mal, raw_item, record, recorded_version

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_locks import DynamoLockTable
from avs_shared.events import AnimeNew, Envelope, ReviewKind, ReviewRequest, derive_event_id
from avs_shared.identity import anime_id_for_sources
from avs_shared.schema import AnimeEntry
from avs_shared.topology import Q_ENRICHER_ANIME_NEW, Q_REVIEW_REQUESTS, T_ENRICHED, T_LOCKS
from avs_sync.reader import BrokenSource
from avs_sync.sync import SyncOptions, run_sync

Seed = Callable[[Sequence[AnimeEntry]], Awaitable[None]]

A, B, C, D, E, F, G, H1, H2, S, K = (f"00000000-0000-4000-8000-0000000000{n:02d}" for n in range(1, 12))
ORPHANED_AT = "2025-01-04T01:00:00Z"

CATALOGUE = [
    entry(A, "Unchanged", [mal(1), anilist(1)]),
    entry(B, "Status Changed", [mal(2)], status="ONGOING"),
    entry(C, "Missing Episodes", [mal(3)], status="ONGOING", episodes=12),
    entry(
        D,
        "Enough Details",
        [mal(4)],
        status="ONGOING",
        episodes=0,
        episode_details=[{"episode_number": n} for n in range(1, 14)],
    ),
    entry(E, "Comes Back", [mal(5)], system_status="ORPHANED", orphaned_at=ORPHANED_AT),
    entry(F, "Gone", [mal(6)]),
    entry(G, "Long Gone", [mal(7)], system_status="ORPHANED", orphaned_at=ORPHANED_AT),
    entry(H1, "Half One", [mal(8)]),
    entry(H2, "Half Two", [mal(9)]),
    entry(S, "Split Whole", [mal(10), anilist(10)]),
    entry(K, "Kitsu Alias", ["https://kitsu.io/anime/11"]),
]
NEW_1 = record("Brand New", [mal(100), anilist(100)], status="UPCOMING", episodes=0)
NEW_2 = record("Held Elsewhere", [anilist(101)])


def offline_records() -> list[dict[str, Any]]:
    no_title = record("x", [mal(50)])
    del no_title["title"]
    return [
        record("Unchanged", [mal(1), anilist(1)]),
        record("Status Changed", [mal(2)], status="FINISHED"),
        record("Missing Episodes", [mal(3)], status="ONGOING", episodes=24),
        record("Enough Details", [mal(4)], status="ONGOING", episodes=13),
        record("Comes Back", [mal(5)]),
        record("Long Gone Not", [mal(70)], type="BOGUS"),  # invalid: skipped, reported
        record("Halves Together", [mal(8), mal(9)]),
        record("Split Part A", [mal(10)]),
        record("Split Part B", [anilist(10)]),
        record("Kitsu Alias", ["https://kitsu.app/anime/11"]),
        no_title,
        NEW_1,
        NEW_2,
    ]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def by_kind(reviews: list[Envelope]) -> dict[str, ReviewRequest]:
    found: dict[str, ReviewRequest] = {}
    for envelope in reviews:
        assert envelope.event_type == "review-request"
        request = ReviewRequest.model_validate(envelope.payload)
        assert str(request.kind) not in found, f"two {request.kind} reviews"
        found[str(request.kind)] = request
    return found


async def status_of(aws: AwsClients, anime_id: str) -> tuple[str, str | None, int]:
    item = await raw_item(aws, T_ENRICHED, anime_id)
    assert item is not None
    orphaned_at = item.get("orphaned_at", {}).get("S")
    return item["system_status"]["S"], orphaned_at, int(item.get("version", {"N": "0"})["N"])


async def payload_of(ports: Any, anime_id: str) -> dict[str, Any]:
    points = await ports.index.get([anime_id])
    assert points, f"no point {anime_id}"
    return dict(points[0].payload)


async def test_every_branch_of_the_diff(
    ports: Any, seed: Seed, offline: Callable[..., Path], aws: AwsClients, drain: Drain, snapshot_object: Any
) -> None:
    await seed(CATALOGUE)
    await snapshot_object(None)
    before = {e.id: await status_of(aws, e.id) for e in CATALOGUE}
    held_id = anime_id_for_sources(NEW_2["sources"])
    assert await DynamoLockTable(aws).acquire(held_id, owner="enricher-run-7")
    path = offline(offline_records())

    summary = await run_sync(ports, SyncOptions(source=str(path)))

    token = f"sha256:{sha256_of(path)}"
    assert summary.version == token and summary.version_recorded
    assert await recorded_version(aws) == token
    assert (summary.records, summary.entries) == (13, len(CATALOGUE))
    assert (summary.new, summary.locked_elsewhere) == (1, 1)
    assert (summary.resurrected, summary.orphaned, summary.already_orphaned) == (1, 1, 1)
    assert summary.unchanged == 3  # A, D (enough episode details), K (kitsu.io = kitsu.app)
    assert summary.flagged == {"status_changed": 1, "missing_episodes": 1, "merge": 1, "split": 1}
    assert summary.invalid_records == 2
    assert summary.invalid_examples[0].startswith("record #6 (data[5]): type")
    assert summary.invalid_examples[1].startswith("record #11 (data[10]): title")

    # Removed: ORPHANED with orphaned_at in DynamoDB and in the vector payload, never deleted.
    status, orphaned_at, version = await status_of(aws, F)
    assert status == "ORPHANED" and orphaned_at is not None and version == before[F][2] + 1
    payload = await payload_of(ports, F)
    assert payload["system_status"] == "ORPHANED"
    assert payload["orphaned_at"] == orphaned_at.replace("Z", "+00:00")
    assert (await ports.entries.get(F)).title == "Gone"
    # Back in the source: ACTIVE again, orphaned_at cleared in both places.
    status, orphaned_at, _ = await status_of(aws, E)
    assert (status, orphaned_at) == ("ACTIVE", None)
    payload = await payload_of(ports, E)
    assert payload["system_status"] == "ACTIVE" and payload.get("orphaned_at") is None
    # Untouched: our data wins; only the listed checks, no other write.
    for anime_id in (A, B, C, D, G, H1, H2, S, K):
        assert await status_of(aws, anime_id) == before[anime_id], anime_id
    assert (await payload_of(ports, G))["orphaned_at"] == "2025-01-04T01:00:00+00:00"

    # New anime: locked and announced once, with a deterministic id and event id.
    new_id = anime_id_for_sources(NEW_1["sources"])
    messages = await drain(Q_ENRICHER_ANIME_NEW)
    assert len(messages) == 1
    message = messages[0]
    assert message.event_id == derive_event_id("anime-new", "new", new_id, token)
    event = AnimeNew.model_validate(message.payload)
    assert event.anime_id == new_id and event.reason == "new"
    assert event.sources == NEW_1["sources"] and event.offline_record == NEW_1
    lock = await raw_item(aws, T_LOCKS, new_id)
    assert lock is not None and lock["owner"]["S"].startswith("sync:")
    assert (
        lock["event_id"]["S"] == message.event_id and "published_at" in lock and "lease_until_ms" not in lock
    )
    held = await raw_item(aws, T_LOCKS, held_id)
    assert held is not None and held["owner"]["S"] == "enricher-run-7"
    assert await ports.entries.get(new_id) is None  # the enricher creates it, not the sync

    # Review requests: one per finding, with what the reviewer needs.
    reviews = by_kind(await drain(Q_REVIEW_REQUESTS))
    status_review = reviews["status_changed"]
    assert status_review.anime_id == B and status_review.entry_ref is None
    assert status_review.details["offline"]["status"] == "FINISHED"
    assert status_review.details["ours"]["status"] == "ONGOING"
    assert status_review.details["sources"] == [mal(2)]
    assert "FINISHED" in status_review.reason and "ONGOING" in status_review.reason
    episodes_review = reviews["missing_episodes"]
    assert episodes_review.anime_id == C
    assert episodes_review.details["offline"]["episodes"] == 24
    assert episodes_review.details["ours"] == {"episodes": 12, "episode_details": 0}
    merge = reviews["merge"]
    assert merge.anime_id == H1 and merge.kind is ReviewKind.MERGE
    assert {e["anime_id"] for e in merge.details["entries"]} == {H1, H2}
    assert merge.details["offline"]["sources"] == [mal(8), mal(9)]
    assert "Half One" in merge.reason and "Half Two" in merge.reason
    split = reviews["split"]
    assert split.anime_id == S
    assert [r["title"] for r in split.details["records"]] == ["Split Part A", "Split Part B"]
    assert "split across 2" in split.reason


async def test_an_unchanged_source_is_skipped_and_force_converges_to_the_same_state(
    ports: Any, seed: Seed, offline: Callable[..., Path], aws: AwsClients, drain: Drain, snapshot_object: Any
) -> None:
    await seed(CATALOGUE)
    await snapshot_object(None)
    path = offline(offline_records())
    await run_sync(ports, SyncOptions(source=str(path)))
    first_reviews = sorted(e.event_id for e in await drain(Q_REVIEW_REQUESTS))
    await drain(Q_ENRICHER_ANIME_NEW)
    state = {e.id: await status_of(aws, e.id) for e in CATALOGUE}

    again = await run_sync(ports, SyncOptions(source=str(path)))
    assert again.skipped_unchanged and "unchanged" in again.lines()[0]
    assert await drain(Q_REVIEW_REQUESTS) == [] and await drain(Q_ENRICHER_ANIME_NEW) == []

    forced = await run_sync(ports, SyncOptions(source=str(path), force=True))
    assert not forced.skipped_unchanged
    assert (forced.new, forced.locked_elsewhere, forced.orphaned, forced.resurrected) == (0, 2, 0, 0)
    assert await drain(Q_ENRICHER_ANIME_NEW) == []
    # The same unresolved findings carry the same event ids: the intake deduplicates them.
    assert sorted(e.event_id for e in await drain(Q_REVIEW_REQUESTS)) == first_reviews
    assert {e.id: await status_of(aws, e.id) for e in CATALOGUE} == state


@pytest.mark.parametrize(("fmt", "zst"), [("json", False), ("jsonl", True)])
async def test_a_truncated_file_writes_nothing(
    ports: Any,
    seed: Seed,
    offline: Callable[..., Path],
    aws: AwsClients,
    drain: Drain,
    snapshot_object: Any,
    fmt: str,
    zst: bool,
) -> None:
    await seed(CATALOGUE)
    await snapshot_object("previous-sha")
    path = offline(offline_records() * 20, fmt=fmt, zst=zst)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])
    before = {e.id: await status_of(aws, e.id) for e in CATALOGUE}

    with pytest.raises(BrokenSource):
        await run_sync(ports, SyncOptions(source=str(path)))

    assert {e.id: await status_of(aws, e.id) for e in CATALOGUE} == before
    assert (await payload_of(ports, F))["system_status"] == "ACTIVE"
    assert await drain(Q_ENRICHER_ANIME_NEW) == [] and await drain(Q_REVIEW_REQUESTS) == []
    assert await ports.locks.states([anime_id_for_sources(NEW_1["sources"])]) == {}
    assert await recorded_version(aws) == "previous-sha"


async def test_a_dry_run_counts_everything_and_writes_nothing(
    ports: Any, seed: Seed, offline: Callable[..., Path], aws: AwsClients, drain: Drain, snapshot_object: Any
) -> None:
    await seed(CATALOGUE)
    await snapshot_object(None)
    await DynamoLockTable(aws).acquire(anime_id_for_sources(NEW_2["sources"]), owner="someone")
    before = {e.id: await status_of(aws, e.id) for e in CATALOGUE}
    path = offline(offline_records(), fmt="jsonl")

    summary = await run_sync(ports, SyncOptions(source=str(path), dry_run=True))

    assert summary.dry_run and summary.lines()[0].startswith("DRY RUN")
    assert (summary.new, summary.locked_elsewhere, summary.orphaned, summary.resurrected) == (1, 1, 1, 1)
    assert summary.flagged == {"status_changed": 1, "missing_episodes": 1, "merge": 1, "split": 1}
    assert {e.id: await status_of(aws, e.id) for e in CATALOGUE} == before
    assert (await payload_of(ports, F))["system_status"] == "ACTIVE"
    assert await drain(Q_ENRICHER_ANIME_NEW) == [] and await drain(Q_REVIEW_REQUESTS) == []
    assert await ports.locks.states([anime_id_for_sources(NEW_1["sources"])]) == {}
    assert await recorded_version(aws) is None


async def test_two_syncs_at_once_enqueue_each_new_anime_once(
    make_ports: Any, seed: Seed, offline: Callable[..., Path], drain: Drain, snapshot_object: Any
) -> None:
    await seed(CATALOGUE)
    await snapshot_object(None)
    news = [record(f"New {n}", [mal(1000 + n)]) for n in range(23)]
    path = offline(offline_records() + news)
    first, second = await make_ports(), await make_ports()

    a, b = await _gather(
        run_sync(first, SyncOptions(source=str(path))), run_sync(second, SyncOptions(source=str(path)))
    )

    assert a.new + b.new == 25  # NEW_1, NEW_2 and 23 more
    assert a.locked_elsewhere + b.locked_elsewhere == 25
    messages = await drain(Q_ENRICHER_ANIME_NEW)
    ids = [AnimeNew.model_validate(m.payload).anime_id for m in messages]
    assert len(ids) == 25 and len(set(ids)) == 25
    assert a.orphaned + b.orphaned + a.concurrent_changes + b.concurrent_changes >= 1
    status, orphaned_at, _ = await status_of(first.aws, F)
    assert status == "ORPHANED"
    assert (await payload_of(first, F))["orphaned_at"] == str(orphaned_at).replace("Z", "+00:00")


async def _gather(*calls: Awaitable[Any]) -> list[Any]:
    import asyncio

    return list(await asyncio.gather(*calls))
