"""When an entry's next episode airs, and when an upcoming anime premieres (pure functions).

All instants are UTC; provider values follow :mod:`avs_shared.timezones` (naive means
Japan time, ``0001-01-01`` means unknown). Sources of an airing, most precise first:

1. ``episode_details[].aired`` inside the window (the provider listed the episode);
2. ``broadcast_schedule.jpn_time`` (AnimeSchedule's next Japanese airing) when it is
   a date-time; a future one outside the window means "not today";
3. the weekly ``broadcast`` slot (Jikan: day, time, time zone), unless the timetable is
   delayed past the slot.

The episode number of a slot is one more than the highest episode that aired before
it (episodes without a date count as aired); beyond a known total there is none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from avs_shared.timezones import (
    broadcast_instants,
    jst_day_start,
    parse_provider_datetime,
    parse_provider_time,
)

Doc = Mapping[str, Any]


def upcoming_episodes(doc: Doc, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
    """``(episode_number, airs_at)`` of the episodes airing in ``[start, end)``, in order."""
    details = _details(doc)
    listed = sorted((t, n) for n, t in details if t is not None and start <= t < end)
    if listed:
        return [(n, t) for t, n in listed]
    slots = _slots(doc, start, end)
    total = _int(doc.get("episodes"))
    found: list[tuple[int, datetime]] = []
    for slot in slots:
        number = max((n for n, t in details if t is None or t < slot), default=0) + 1
        if found and number <= found[-1][0]:
            number = found[-1][0] + 1
        if total and number > total:
            break
        found.append((number, slot))
    return found


def premiere(doc: Doc) -> datetime | None:
    """When an upcoming anime first airs, as an instant; None when unknown.

    A date-only premiere (or one at exactly midnight UTC, which is how Jikan writes a
    bare date) is a Japanese calendar day: its broadcast slot that day if the weekly
    slot is known, else the start of that day in Japan.
    """
    schedule = doc.get("broadcast_schedule") or {}
    exact = _parse(schedule.get("jpn_time"))
    if isinstance(exact, datetime):
        return exact
    for value in (
        (doc.get("premiere_dates") or {}).get("original"),
        (doc.get("aired_dates") or {}).get("from"),
    ):
        parsed = _parse(value)
        if parsed is None:
            continue
        if isinstance(parsed, datetime) and (parsed.hour, parsed.minute, parsed.second) != (0, 0, 0):
            return parsed
        day = parsed.date() if isinstance(parsed, datetime) else parsed
        return _slot_on(doc, day) or jst_day_start(day)
    return None


def _slot_on(doc: Doc, day: date) -> datetime | None:
    broadcast = doc.get("broadcast") or {}
    begin = jst_day_start(day)
    found = broadcast_instants(
        broadcast.get("day"),
        broadcast.get("time"),
        broadcast.get("timezone"),
        start=begin,
        end=begin + timedelta(days=1),
    )
    return found[0] if found else None


def _slots(doc: Doc, start: datetime, end: datetime) -> list[datetime]:
    schedule = doc.get("broadcast_schedule") or {}
    exact = _parse(schedule.get("jpn_time"))
    if isinstance(exact, datetime):
        if start <= exact < end:
            return [exact]
        if exact >= end:
            return []  # the next airing is known and it is not in this window
    broadcast = doc.get("broadcast") or {}
    try:
        slots = broadcast_instants(
            broadcast.get("day"), broadcast.get("time"), broadcast.get("timezone"), start=start, end=end
        )
    except ValueError:
        return []
    delayed_until = _delayed_until(doc)
    return [s for s in slots if delayed_until is None or s >= delayed_until]


def _delayed_until(doc: Doc) -> datetime | None:
    """The end of a delay (an instant), ``datetime.max`` for an open-ended one, else None."""
    delay = doc.get("delay_information") or {}
    if not delay.get("delayed_timetable"):
        return None
    until = delay.get("delayed_until")
    try:
        parsed = parse_provider_datetime(until) if isinstance(until, str) else None
    except ValueError:
        parsed = None
    return parsed or datetime.max.replace(tzinfo=UTC)


def _details(doc: Doc) -> list[tuple[int, datetime | None]]:
    out: list[tuple[int, datetime | None]] = []
    for detail in doc.get("episode_details") or []:
        if not isinstance(detail, Mapping):
            continue
        number = _int(detail.get("episode_number"))
        if number is None:
            continue
        aired = _parse(detail.get("aired"))
        out.append((number, aired if isinstance(aired, datetime) else None))
    return out


def _parse(value: object) -> datetime | date | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_provider_time(value)
    except ValueError:
        return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
