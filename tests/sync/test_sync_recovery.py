"""A sync that dies midway and is run again converges to the state of one clean run.

Faults are injected by thin decorators around the real adapters (the real SNS publisher,
the real DynamoDB entry store) that raise after a number of calls: the calls before the
fault really happened, the rest never did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from avs_sync_testkit import Drain, entry, mal, raw_item, record, recorded_version

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.sns import SnsPublisher
from avs_shared.errors import Permanent
from avs_shared.events import AnimeNew, Envelope, ReviewRequest
from avs_shared.identity import anime_id_for_sources
from avs_shared.schema import AnimeEntry
from avs_shared.topology import Q_ENRICHER_ANIME_NEW, Q_REVIEW_REQUESTS, T_ENRICHED
from avs_sync.ports import SyncPorts
from avs_sync.sync import SyncOptions, run_sync

Seed = Callable[[Sequence[AnimeEntry]], Awaitable[None]]


class Crash(RuntimeError):
    """The injected fault."""


class FailingPublisher(SnsPublisher):
    """The real publisher, which dies on its ``after``-th batch."""

    def __init__(self, real: SnsPublisher, after: int) -> None:
        self.__dict__.update(real.__dict__)
        self._left = after

    async def publish_many(self, envelopes: Sequence[Envelope], *, topic: str | None = None) -> list[str]:
        if self._left <= 0:
            raise Crash("the process died while publishing")
        self._left -= 1
        return await super().publish_many(envelopes, topic=topic)


class FailingEntries(DynamoEntryStore):
    """The real entry store, which dies on its ``after``-th ``update_fields``."""

    def __init__(self, real: DynamoEntryStore, after: int) -> None:
        self.__dict__.update(real.__dict__)
        self._left = after

    async def update_fields(self, anime_id: str, set: Any, remove: Sequence[str] = (), **kwargs: Any) -> int:
        if self._left <= 0:
            raise Crash("the process died between the vector payload and DynamoDB")
        self._left -= 1
        return await super().update_fields(anime_id, set=set, remove=remove, **kwargs)


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


CATALOGUE = [entry(uid(n), f"Kept {n}", [mal(n)]) for n in range(1, 31)]
GONE = [entry(uid(n), f"Gone {n}", [mal(n)]) for n in range(31, 41)]
BACK = [
    entry(uid(n), f"Back {n}", [mal(n)], system_status="ORPHANED", orphaned_at="2025-01-01T00:00:00Z")
    for n in (41, 42)
]
CHANGED = [entry(uid(43), "Changed", [mal(43)], status="ONGOING")]
NEWS = [record(f"New {n}", [mal(500 + n)]) for n in range(25)]


def the_file(offline: Callable[..., Path]) -> Path:
    kept = [record(e.title, e.sources) for e in CATALOGUE + BACK]
    return offline([*kept, record("Changed", [mal(43)]), *NEWS])


async def check_converged(ports: SyncPorts, aws: AwsClients, drain: Drain) -> None:
    """The state of one clean run: every new anime once, orphans and returns consistent."""
    messages = await drain(Q_ENRICHER_ANIME_NEW)
    by_anime: dict[str, set[str]] = {}
    for message in messages:
        by_anime.setdefault(AnimeNew.model_validate(message.payload).anime_id, set()).add(message.event_id)
    assert len(by_anime) == len(NEWS)
    assert all(len(ids) == 1 for ids in by_anime.values()), "one event id per new anime"
    for gone in GONE:
        item = await raw_item(aws, T_ENRICHED, gone.id)
        assert item is not None and item["system_status"]["S"] == "ORPHANED"
        payload = (await ports.index.get([gone.id]))[0].payload
        assert payload["system_status"] == "ORPHANED"
        assert payload["orphaned_at"] == item["orphaned_at"]["S"].replace("Z", "+00:00")
    for back in BACK:
        item = await raw_item(aws, T_ENRICHED, back.id)
        assert item is not None and item["system_status"]["S"] == "ACTIVE" and "orphaned_at" not in item
        assert (await ports.index.get([back.id]))[0].payload["system_status"] == "ACTIVE"
    reviews = [ReviewRequest.model_validate(m.payload) for m in await drain(Q_REVIEW_REQUESTS)]
    assert {(r.anime_id, str(r.kind)) for r in reviews} == {(uid(43), "status_changed")}


async def test_a_crash_while_enqueueing_and_a_rerun_converge(
    make_ports: Any,
    seed: Seed,
    offline: Callable[..., Path],
    aws: AwsClients,
    drain: Drain,
    snapshot_object: Any,
) -> None:
    await seed(CATALOGUE + GONE + BACK + CHANGED)
    await snapshot_object(None)
    path = the_file(offline)
    healthy = await make_ports(lease_s=0.3)
    assert isinstance(healthy.publisher, SnsPublisher)
    dying = await make_ports(lease_s=0.3, publisher_override=FailingPublisher(healthy.publisher, after=1))

    with pytest.raises(Crash):
        await run_sync(dying, SyncOptions(source=str(path)))
    locks = await healthy.locks.states([anime_id_for_sources(r["sources"]) for r in NEWS])
    published = [s for s in locks.values() if s.published_at is not None]
    assert (len(locks), len(published)) == (20, 10)  # chunk 1 got out; chunk 2 was locked, then it died
    assert await recorded_version(aws) is None
    await asyncio.sleep(0.4)  # the dead run's publish leases run out

    summary = await run_sync(healthy, SyncOptions(source=str(path)))

    assert summary.new == len(NEWS) - 10 and summary.locked_elsewhere == 10
    assert (summary.orphaned, summary.resurrected) == (0, 0)  # done before the crash
    assert await recorded_version(aws) == summary.version
    await check_converged(healthy, aws, drain)


async def test_a_crash_between_the_vector_payload_and_dynamodb_and_a_rerun_converge(
    make_ports: Any,
    seed: Seed,
    offline: Callable[..., Path],
    aws: AwsClients,
    drain: Drain,
    snapshot_object: Any,
) -> None:
    await seed(CATALOGUE + GONE + BACK + CHANGED)
    await snapshot_object(None)
    path = the_file(offline)
    healthy = await make_ports()
    assert isinstance(healthy.entries, DynamoEntryStore)
    dying = SyncPorts(**{**healthy.__dict__, "entries": FailingEntries(healthy.entries, after=2 + 4)})

    with pytest.raises(Crash):
        await run_sync(dying, SyncOptions(source=str(path), concurrency=1))
    orphaned_now = [
        g for g in GONE if (await raw_item(aws, T_ENRICHED, g.id) or {})["system_status"]["S"] == "ORPHANED"
    ]
    assert len(orphaned_now) == 4  # the other six have the new payload but not the DynamoDB change
    await asyncio.sleep(1.1)  # a later second: the re-run's orphaned_at differs from the dead run's

    summary = await run_sync(healthy, SyncOptions(source=str(path)))

    assert (summary.orphaned, summary.already_orphaned, summary.new) == (6, 4, len(NEWS))
    await check_converged(healthy, aws, drain)


async def test_an_implausible_number_of_orphans_stops_the_sync_unless_forced(
    ports: SyncPorts,
    seed: Seed,
    offline: Callable[..., Path],
    aws: AwsClients,
    drain: Drain,
    snapshot_object: Any,
) -> None:
    many = [entry(uid(100 + n), f"Anime {n}", [mal(100 + n)]) for n in range(60)]
    await seed(many)
    await snapshot_object(None)
    path = offline([record("Anime 0", [mal(100)])])  # a wrong (or cut at a line end) file

    with pytest.raises(Permanent, match="would orphan 59 of 60 active entries"):
        await run_sync(ports, SyncOptions(source=str(path)))
    assert (await raw_item(aws, T_ENRICHED, uid(101)) or {})["system_status"]["S"] == "ACTIVE"

    summary = await run_sync(ports, SyncOptions(source=str(path), force=True))
    assert summary.orphaned == 59 and any("forced past" in n for n in summary.notes)
