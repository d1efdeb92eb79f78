"""Time zone rules for provider data: everything we store is UTC.

Providers speak Japan time. The rules (DATA.md, "Time"):

- a naive time from a provider is ``Asia/Tokyo`` (UTC+9, no DST), never the server's
  local zone;
- a value with an offset (``Z``, ``+09:00``) means what it says;
- a date-only value stays a :class:`~datetime.date` (it is not a midnight instant in
  any zone); :func:`jst_day_start` gives the instant a Japanese calendar day starts
  when an instant is needed;
- ``0001-01-01`` (alone or with a time) means "unknown" and becomes None;
- AniList ``airingAt`` is Unix time, already UTC (:func:`from_unix`);
- Jikan's ``broadcast`` ``{day: "Saturdays", time: "00:30", timezone: "Asia/Tokyo"}``
  is a weekly slot; :func:`broadcast_instants` lists its UTC instants in a window.
  Late-night Japanese times past midnight (``25:30``) are the next day's ``01:30``.

A Saturday 00:30 JST broadcast is a Friday 15:30 UTC broadcast: days of the week
change with the zone, so a slot is always resolved in its own zone first and then
converted.

Self-contained (standard library only) so every service can use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

JST: tzinfo = ZoneInfo("Asia/Tokyo")
"""Japan Standard Time: the zone of every naive provider time."""

UNKNOWN_DATE = date(1, 1, 1)
"""``0001-01-01``: what providers write for "unknown"."""

_WEEKDAYS = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
    "月": 0,
    "火": 1,
    "水": 2,
    "木": 3,
    "金": 4,
    "土": 5,
    "日": 6,
}
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_ZONE_ALIASES = {"JST": "Asia/Tokyo", "UTC": "UTC", "GMT": "UTC", "Z": "UTC"}


def to_utc(value: datetime, *, naive_zone: tzinfo = JST) -> datetime:
    """``value`` as an aware UTC datetime; a naive value is read in ``naive_zone`` (JST)."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=naive_zone)
    return value.astimezone(UTC)


def jst_to_utc(value: datetime) -> datetime:
    """A Japan wall-clock time (naive, or already in JST) as UTC."""
    return to_utc(value, naive_zone=JST)


def format_utc(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z`` (a naive value is read as JST first)."""
    return to_utc(value).isoformat().replace("+00:00", "Z")


def from_unix(seconds: float) -> datetime:
    """Unix time (AniList ``airingAt``) as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def is_unknown(value: date | datetime | None) -> bool:
    """True for None and for the ``0001-01-01`` "unknown" marker."""
    if value is None:
        return True
    day = value.date() if isinstance(value, datetime) else value
    return day == UNKNOWN_DATE


def parse_provider_time(text: str | None, *, naive_zone: tzinfo = JST) -> datetime | date | None:
    """A provider's date or date-time text, by the rules of this module.

    Returns
    -------
    datetime | date | None
        An aware UTC datetime for a date-time (naive ones read in ``naive_zone``), a
        ``date`` for a date-only value, None for empty text and ``0001-01-01``.

    Raises
    ------
    ValueError
        The text is neither ISO 8601 nor ``YYYY-MM-DD HH:MM[:SS]``; the message quotes it.
    """
    if text is None or not text.strip():
        return None
    raw = text.strip()
    if raw.startswith("0001-01-01"):
        return None
    if _DATE_ONLY.match(raw):
        return date.fromisoformat(raw)
    candidate = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][offset])"
        ) from exc
    return to_utc(parsed, naive_zone=naive_zone)


def parse_provider_datetime(text: str | None, *, naive_zone: tzinfo = JST) -> datetime | None:
    """Like :func:`parse_provider_time`, but a date-only value is read as the start of
    that day in ``naive_zone`` (for a value that must be an instant, such as a premiere
    compared with a time window)."""
    value = parse_provider_time(text, naive_zone=naive_zone)
    if isinstance(value, datetime) or value is None:
        return value
    return day_start(value, naive_zone)


def day_start(day: date, zone: tzinfo = JST) -> datetime:
    """The UTC instant at which calendar ``day`` starts in ``zone``."""
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def jst_day_start(day: date) -> datetime:
    """The UTC instant at which a Japanese calendar day starts (15:00 UTC the day before)."""
    return day_start(day, JST)


def zone_of(name: str | None) -> tzinfo:
    """A provider's time zone name as a ``tzinfo``; None or empty means JST.

    Raises
    ------
    ValueError
        An unknown zone name.
    """
    if name is None or not name.strip():
        return JST
    key = _ZONE_ALIASES.get(name.strip().upper(), name.strip())
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as 'Asia/Tokyo'") from exc


def parse_weekday(day: str | None) -> int | None:
    """Monday = 0 ... Sunday = 6 from ``"Saturdays"``, ``"Sat"``, ``"saturday"``, ``"土曜日"``;
    None for ``"Unknown"``, empty or unrecognised text."""
    if not day or not day.strip():
        return None
    text = day.strip().lower()
    return _WEEKDAYS.get(text[:3], _WEEKDAYS.get(text[:1]))


def parse_time_of_day(text: str | None) -> tuple[int, int, int] | None:
    """``(hour, minute, second)`` of ``"00:30"`` or ``"25:30:00"``; hours up to 29 are the
    Japanese late-night notation (the next day's early hours). None if unparseable."""
    if not text:
        return None
    match = _TIME_OF_DAY.match(text.strip())
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 29 or minute > 59 or second > 59:
        return None
    return hour, minute, second


def broadcast_instants(
    day: str | None, time_of_day: str | None, zone: str | None, *, start: datetime, end: datetime
) -> list[datetime]:
    """The UTC instants of a weekly broadcast slot in ``[start, end)``.

    Parameters
    ----------
    day, time_of_day, zone:
        Jikan's ``broadcast.day`` (``"Saturdays"``), ``broadcast.time`` (``"00:30"``)
        and ``broadcast.timezone`` (``"Asia/Tokyo"``; None means JST).
    start, end:
        The window (aware datetimes; naive ones are read as JST).

    Returns
    -------
    list[datetime]
        Ascending aware UTC datetimes; empty when the day or time is unknown.

    Raises
    ------
    ValueError
        ``zone`` is not a known time zone.
    """
    weekday = parse_weekday(day)
    clock = parse_time_of_day(time_of_day)
    if weekday is None or clock is None:
        return []
    tz = zone_of(zone)
    start_utc, end_utc = to_utc(start), to_utc(end)
    return [t for t in _weekly(weekday, clock, tz, start_utc, end_utc) if start_utc <= t < end_utc]


def next_broadcast(
    day: str | None, time_of_day: str | None, zone: str | None, *, after: datetime
) -> datetime | None:
    """The first UTC instant of the weekly slot at or after ``after``; None if unknown."""
    found = broadcast_instants(day, time_of_day, zone, start=after, end=to_utc(after) + timedelta(days=8))
    return found[0] if found else None


def _weekly(
    weekday: int, clock: tuple[int, int, int], tz: tzinfo, start: datetime, end: datetime
) -> Iterator[datetime]:
    """Slot instants around ``[start, end)``: resolved as wall-clock times in ``tz``."""
    hour, minute, second = clock
    extra_days, hour = divmod(hour, 24)  # 25:30 on Friday is Saturday 01:30
    local_start = start.astimezone(tz).date() - timedelta(days=8)
    local_end = end.astimezone(tz).date() + timedelta(days=1)
    day = local_start + timedelta(days=(weekday - local_start.weekday()) % 7)
    while day <= local_end:
        wall = datetime.combine(day + timedelta(days=extra_days), time(hour, minute, second))
        yield wall.replace(tzinfo=tz).astimezone(UTC)
        day += timedelta(days=7)
