"""Provider times as the entry stores them, by the rules of :mod:`avs_shared.timezones`.

- An instant field (``aired_dates.from``, ``episode_details[].aired``) gets ISO 8601 UTC
  with ``Z``. A naive provider time is Japan time; a value with an offset means what it
  says; AniList's Unix ``airingAt`` is UTC. A date-only value has no instant: it is kept
  as that calendar date at ``00:00Z`` (what the real catalogue does), never shifted by
  nine hours.
- A text field that holds either (``premiere_dates``, ``broadcast_schedule``) keeps a
  date-only value as ``YYYY-MM-DD`` and converts a date-time to UTC.
- ``0001-01-01`` means unknown and becomes None everywhere.
- Jikan's weekly ``broadcast`` slot (``Saturdays 00:30 Asia/Tokyo``) becomes the same
  slot in UTC (``Fridays 15:30 UTC``): the day of the week changes with the zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from avs_shared.timezones import format_utc, from_unix, next_broadcast, parse_provider_time

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Any fixed reference works: JST has no daylight saving time, so a slot maps the same way every week.
_REFERENCE = datetime(2024, 1, 1, tzinfo=UTC)


def _parse(value: Any) -> datetime | date | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_provider_time(value)
    except ValueError:
        return None


def instant(value: Any) -> str | None:
    """An instant field's value: UTC ISO text, a date as ``YYYY-MM-DDT00:00:00Z``, or None."""
    parsed = _parse(value)
    if parsed is None:
        return None
    if isinstance(parsed, datetime):
        return format_utc(parsed)
    return f"{parsed.isoformat()}T00:00:00Z"


def date_or_instant(value: Any) -> str | None:
    """A date stays ``YYYY-MM-DD``; a date-time becomes UTC ISO text; unknown is None."""
    parsed = _parse(value)
    if parsed is None:
        return None
    if isinstance(parsed, datetime):
        return format_utc(parsed)
    return parsed.isoformat()


def unix_instant(value: Any) -> str | None:
    """AniList ``airingAt`` (Unix seconds, UTC) as ISO text."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return format_utc(from_unix(value))


def date_of(value: Any) -> date | None:
    """The calendar date of a provider value (for ``month`` and ``year``)."""
    parsed = _parse(value)
    if isinstance(parsed, datetime):
        return parsed.date()
    return parsed


def date_parts(year: Any, month: Any, day: Any) -> str | None:
    """``YYYY-MM-DD`` from AniList's ``{year, month, day}`` (all three needed)."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (year, month, day)):
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def month_name(value: Any) -> str | None:
    """``"October"`` for a date in October."""
    found = date_of(value)
    return found.strftime("%B") if found else None


def broadcast_utc(day: Any, time_of_day: Any, zone: Any) -> dict[str, str] | None:
    """A weekly slot converted to UTC, in the provider's style (``"Fridays"``, ``"15:30"``).

    None when the day or time is unknown or the zone is not a time zone.
    """
    if not isinstance(day, str) or not isinstance(time_of_day, str):
        return None
    try:
        first = next_broadcast(day, time_of_day, zone if isinstance(zone, str) else None, after=_REFERENCE)
    except ValueError:
        return None
    if first is None:
        return None
    name = _DAY_NAMES[first.weekday()]
    if day.strip().lower().endswith("s"):
        name += "s"
    return {"day": name, "time": first.strftime("%H:%M"), "timezone": "UTC"}
