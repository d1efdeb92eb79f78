"""The daily episode scheduler (``daily-episode-scheduler``, 00:05 UTC; ``avs schedule-daily``).

For the next 24 hours:

- every ACTIVE ``ONGOING`` entry with an episode airing gets a one-time schedule
  ``animeId-{anime_id}-episode-{n}`` at that instant, targeting ``enricher-episode-update``
  ("already exists" counts as success);
- every ACTIVE ``UPCOMING`` entry premiering takes the processing lock and gets an
  ``anime-new`` (reason ``premiere``) for a full enrichment.

The table is scanned once for ``status`` (a small projection); only the ONGOING and
UPCOMING entries are then read in full detail, in batches. Re-running is harmless:
schedule names and event ids are deterministic and the lock holds a premiere for 24 h.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from avs_shared.schema import AnimeStatus, SystemStatus
from avs_sync.airing import premiere, upcoming_episodes
from avs_sync.ports import SyncPorts
from avs_sync.schedules import schedule_name
from avs_sync.sync import enqueue_new

log = structlog.get_logger(__name__)

DETAIL_FIELDS = [
    "title",
    "type",
    "status",
    "episodes",
    "sources",
    "system_status",
    "episode_details",
    "broadcast",
    "broadcast_schedule",
    "premiere_dates",
    "aired_dates",
    "delay_information",
]
_BATCH = 100


@dataclass
class ScheduleReport:
    window_start: str = ""
    window_end: str = ""
    ongoing: int = 0
    upcoming: int = 0
    scheduled: int = 0
    already_scheduled: int = 0
    premieres_enqueued: int = 0
    premieres_locked: int = 0
    schedules: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"window {self.window_start} .. {self.window_end} (UTC)",
            f"ongoing {self.ongoing}: {self.scheduled} episode schedules created, "
            f"{self.already_scheduled} already existed",
            f"upcoming {self.upcoming}: {self.premieres_enqueued} premieres enqueued, "
            f"{self.premieres_locked} locked elsewhere",
            f"duration {self.duration_s:.1f} s",
        ]


async def schedule_daily(
    ports: SyncPorts, *, now: datetime | None = None, hours: float = 24.0, owner: str | None = None
) -> ScheduleReport:
    """Create today's episode schedules and enqueue today's premieres."""
    started = time.monotonic()
    start = (now or datetime.now(UTC)).astimezone(UTC)
    end = start + timedelta(hours=hours)
    report = ScheduleReport(window_start=start.isoformat(), window_end=end.isoformat())
    ongoing, upcoming = await _candidates(ports)
    report.ongoing, report.upcoming = len(ongoing), len(upcoming)

    async for doc in _details(ports, ongoing):
        for number, airs_at in upcoming_episodes(doc, start, end):
            created = await ports.schedules.create(str(doc["id"]), number, airs_at)
            report.schedules.append(schedule_name(str(doc["id"]), number))
            if created:
                report.scheduled += 1
            else:
                report.already_scheduled += 1

    owner = owner or f"scheduler:{uuid.uuid4()}"
    async for doc in _details(ports, upcoming):
        when = premiere(doc)
        if when is None or not start <= when < end:
            continue
        if not doc.get("sources"):
            log.warning("scheduler.premiere_without_sources", anime_id=doc["id"])
            continue
        done, locked = await enqueue_new(
            ports,
            [(str(doc["id"]), _known_record(doc))],
            owner=owner,
            event_key=when.isoformat(),
            reason="premiere",
        )
        report.premieres_enqueued += done
        report.premieres_locked += locked
    report.duration_s = time.monotonic() - started
    log.info("scheduler.finished", **{k: v for k, v in report.__dict__.items() if k != "schedules"})
    return report


async def _candidates(ports: SyncPorts) -> tuple[list[str], list[str]]:
    ongoing: list[str] = []
    upcoming: list[str] = []
    rows = ports.entries.scan(ports.settings.sync_scan_segments, ["status", "system_status"])
    async with contextlib.aclosing(rows):
        async for row in rows:
            if row.get("system_status", SystemStatus.ACTIVE) != SystemStatus.ACTIVE:
                continue
            if row.get("status") == AnimeStatus.ONGOING:
                ongoing.append(str(row["id"]))
            elif row.get("status") == AnimeStatus.UPCOMING:
                upcoming.append(str(row["id"]))
    return sorted(ongoing), sorted(upcoming)


async def _details(ports: SyncPorts, ids: list[str]) -> AsyncIterator[dict[str, object]]:
    """The detailed projection of ``ids``, one batch in memory at a time."""
    for start in range(0, len(ids), _BATCH):
        for row in await ports.entries.batch_get(ids[start : start + _BATCH], DETAIL_FIELDS):
            yield row


def _known_record(doc: dict[str, object]) -> dict[str, object]:
    """What we know of an upcoming anime, in the offline record's shape, for ``anime-new``."""
    record = {k: doc[k] for k in ("sources", "title", "type", "status", "episodes") if k in doc}
    record["anime_id"] = doc["id"]
    return record
