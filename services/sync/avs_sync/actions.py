"""The sync's writes: orphaning, resurrection, review requests, publishing.

Orphaning and resurrection change ``system_status`` (and ``orphaned_at``) in two places.
The vector payload is written first and DynamoDB second, so DynamoDB is the commit
point: a run that dies in between leaves DynamoDB unchanged, and the next run sees the
same work to do and does all of it again (both writes are idempotent). The DynamoDB
update is a compare-and-set on the old ``system_status``; losing it means another run
got there first, and the vector payload is then set again from what DynamoDB holds.
Nothing is ever deleted, and no other field is touched.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import structlog

from avs_shared.errors import Conflict
from avs_shared.events import Envelope, ReviewKind
from avs_shared.ports.entries import EntryStore
from avs_shared.ports.messaging import Publisher
from avs_shared.ports.vector import VectorIndex
from avs_shared.schema import SystemStatus
from avs_sync.catalogue import OurEntry
from avs_sync.diff import Plan, RecordInfo
from avs_sync.reviews import review

log = structlog.get_logger(__name__)

T = TypeVar("T")
_PAYLOAD_CHUNK = 500
_DETAILS_CHUNK = 25


@dataclass
class StatusChange:
    """Outcome of orphaning or resurrecting a set of entries."""

    changed: int = 0
    missing_points: int = 0
    concurrent: int = 0


async def orphan(
    entries: EntryStore,
    index: VectorIndex,
    targets: Sequence[OurEntry],
    now: datetime,
    *,
    concurrency: int = 16,
) -> StatusChange:
    """Mark entries that left the source ``ORPHANED`` with ``orphaned_at = now``."""
    payload = {"system_status": str(SystemStatus.ORPHANED), "orphaned_at": now.isoformat()}
    return await _transition(
        entries,
        index,
        targets,
        payload,
        set_fields={"system_status": str(SystemStatus.ORPHANED), "orphaned_at": now},
        remove=(),
        expect=SystemStatus.ACTIVE,
        concurrency=concurrency,
    )


async def resurrect(
    entries: EntryStore, index: VectorIndex, targets: Sequence[OurEntry], *, concurrency: int = 16
) -> StatusChange:
    """Bring orphaned entries that are back in the source to ``ACTIVE`` (``orphaned_at`` cleared)."""
    return await _transition(
        entries,
        index,
        targets,
        {"system_status": str(SystemStatus.ACTIVE), "orphaned_at": None},
        set_fields={"system_status": str(SystemStatus.ACTIVE)},
        remove=("orphaned_at",),
        expect=SystemStatus.ORPHANED,
        concurrency=concurrency,
    )


async def _transition(
    entries: EntryStore,
    index: VectorIndex,
    targets: Sequence[OurEntry],
    payload: dict[str, Any],
    *,
    set_fields: dict[str, object],
    remove: Sequence[str],
    expect: SystemStatus,
    concurrency: int,
) -> StatusChange:
    ids = [e.id for e in targets]
    result = StatusChange()
    if not ids:
        return result
    for start in range(0, len(ids), _PAYLOAD_CHUNK):
        missing = await index.set_payload(ids[start : start + _PAYLOAD_CHUNK], payload)
        result.missing_points += len(missing)
        if missing:
            log.info("sync.vector_points_missing", count=len(missing), example=missing[0])
    lost: list[str] = []

    async def update(anime_id: str) -> bool:
        try:
            await entries.update_fields(
                anime_id, set=set_fields, remove=remove, expect={"system_status": str(expect)}
            )
        except Conflict:
            lost.append(anime_id)
            return False
        return True

    done = await bounded(concurrency, [functools.partial(update, a) for a in ids])
    result.changed = sum(done)
    if lost:
        result.concurrent = len(lost)
        log.warning("sync.changed_concurrently", count=len(lost), example=lost[0])
        await _payload_from_store(entries, index, sorted(lost))
    return result


async def _payload_from_store(entries: EntryStore, index: VectorIndex, ids: list[str]) -> None:
    """Set the vector payload's status fields to what DynamoDB holds (after a lost race)."""
    groups: dict[tuple[str, str | None], list[str]] = {}
    for row in await entries.batch_get(ids, ["system_status", "orphaned_at"], consistent=True):
        orphaned_at = row.get("orphaned_at")
        iso = (
            datetime.fromisoformat(str(orphaned_at).replace("Z", "+00:00")).isoformat()
            if orphaned_at
            else None
        )
        groups.setdefault((str(row.get("system_status")), iso), []).append(str(row["id"]))
    for (status, orphaned_at), members in groups.items():
        await index.set_payload(members, {"system_status": status, "orphaned_at": orphaned_at})


async def confirm_missing_episodes(entries: EntryStore, changes: Plan) -> None:
    """Keep only the candidates whose offline ``episodes`` exceeds our episode count.

    Our count is the larger of ``episodes`` and the number of ``episode_details``; the
    details are read only for the candidates (batched), never for the whole table.
    """
    candidates = changes.episodes_candidates
    if not candidates:
        return
    counts: dict[str, int] = {}
    ids = [entry.id for entry, _ in candidates]
    for start in range(0, len(ids), _DETAILS_CHUNK):
        for row in await entries.batch_get(ids[start : start + _DETAILS_CHUNK], ["episode_details"]):
            details = row.get("episode_details")
            counts[str(row["id"])] = len(details) if isinstance(details, list) else 0
    flagged_status = {entry.id for entry, _ in changes.status_changed}
    kept: list[tuple[OurEntry, RecordInfo]] = []
    for entry, record in candidates:
        details = counts.get(entry.id, 0)
        changes.episode_details[entry.id] = details
        if record.episodes > max(entry.episodes, details):
            kept.append((entry, record))
        elif entry.id not in flagged_status and not entry.orphaned:
            changes.unchanged += 1
    changes.episodes_candidates = kept


def review_requests(changes: Plan, *, source: str, version: str) -> list[Envelope]:
    """One review request per finding, in plan order, with deterministic event ids."""
    origin = {"url": source, "version": version}
    out: list[Envelope] = []
    for entry, record in changes.status_changed:
        out.append(
            review(
                entry.id,
                ReviewKind.STATUS_CHANGED,
                f"{entry.title!r}: the offline database says status {record.status}, we have {entry.status}",
                {
                    "title": entry.title,
                    "field": "status",
                    "offline": {"status": record.status, "record": record.brief()},
                    "ours": {"status": entry.status},
                    "sources": list(record.sources),
                    "source": origin,
                },
                {"offline": record.status, "ours": entry.status},
            )
        )
    for entry, record in changes.episodes_candidates:
        details = changes.episode_details.get(entry.id, 0)
        ours = max(entry.episodes, details)
        out.append(
            review(
                entry.id,
                ReviewKind.MISSING_EPISODES,
                f"{entry.title!r}: the offline database counts {record.episodes} episodes, we have {ours} "
                f"({entry.episodes} in `episodes`, {details} episode details); episodes may be missing",
                {
                    "title": entry.title,
                    "field": "episodes",
                    "offline": {"episodes": record.episodes, "record": record.brief()},
                    "ours": {"episodes": entry.episodes, "episode_details": details},
                    "sources": list(record.sources),
                    "source": origin,
                },
                {"offline": record.episodes, "ours": ours},
            )
        )
    for record, ours_list in changes.merges:
        members = sorted(ours_list, key=lambda e: e.id)
        titles = ", ".join(f"{e.title!r} ({e.id})" for e in members)
        record_sources = set(record.sources)
        out.append(
            review(
                members[0].id,
                ReviewKind.MERGE,
                f"offline record {record.title!r} (#{record.position}) covers {len(members)} of our entries: "
                f"{titles}. They may be one anime: merge them or keep them apart; nothing was changed",
                {
                    "title": record.title,
                    "offline": record.brief(),
                    "entries": [e.brief() for e in members],
                    "shared_sources": {e.id: sorted(record_sources & set(e.sources)) for e in members},
                    "sources": list(record.sources),
                    "source": origin,
                },
                {"record": sorted(record.sources), "entries": [e.id for e in members]},
            )
        )
    for entry, records in changes.splits:
        titles = ", ".join(f"{r.title!r} (#{r.position})" for r in records)
        out.append(
            review(
                entry.id,
                ReviewKind.SPLIT,
                f"our entry {entry.title!r} is split across {len(records)} offline records: {titles}. "
                "The anime may now be several; nothing was changed and no new entry was made",
                {
                    "title": entry.title,
                    "entry": entry.brief(),
                    "records": [r.brief() for r in records],
                    "sources": sorted({s for r in records for s in r.sources}),
                    "source": origin,
                },
                {"records": sorted(sorted(r.sources) for r in records)},
            )
        )
    return out


async def publish_all(publisher: Publisher, envelopes: Sequence[Envelope]) -> None:
    """Publish with ``PublishBatch`` when the publisher offers it, else one by one."""
    many: Callable[[Sequence[Envelope]], Awaitable[object]] | None = getattr(publisher, "publish_many", None)
    if many is not None:
        await many(envelopes)
        return
    for envelope in envelopes:
        await publisher.publish(envelope)


async def bounded(limit: int, calls: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Await the calls with at most ``limit`` running at once; results in order."""
    gate = asyncio.Semaphore(max(limit, 1))

    async def run(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    tasks = [asyncio.ensure_future(run(c)) for c in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        # The first failure ends the batch: nothing else starts after it.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
