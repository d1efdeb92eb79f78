"""EventBridge schedule expressions: :func:`parse` them, and find their :func:`next_fire`.

The same expressions schedule the jobs in the cloud (EventBridge rules) and locally
(:class:`~avs_shared.runtime.cron.LocalCron`). Pure: no I/O, no clock.

Supported syntax (all times UTC):

``cron(minutes hours day-of-month month day-of-week year)``
    ``*``, ``?``, single values, lists ``a,b``, ranges ``a-b``, steps ``*/n`` and
    ``a-b/n`` and ``a/n``, month names ``JAN``-``DEC``, weekday names ``SUN``-``SAT``.
    Day-of-week counts ``1=SUN`` .. ``7=SAT`` as EventBridge does. Exactly one of
    day-of-month and day-of-week must be ``?``. Also ``L`` (last day of the month),
    ``nW`` (the weekday nearest day n, within the month) and ``LW`` in day-of-month,
    and ``nL`` (last weekday n of the month) and ``n#k`` (k-th weekday n) in
    day-of-week.
``rate(N unit)``
    ``minute``/``hour``/``day`` when N is 1, ``minutes``/``hours``/``days`` otherwise.
    A rate fires at ``anchor + k * period``; the anchor defaults to the Unix epoch, so
    ``rate(12 hours)`` fires at 00:00 and 12:00 UTC and a restart does not postpone it.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MAX_YEAR = 2199


# --------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class DayRule:
    """Day matching that a plain set of numbers cannot express (``L``, ``W``, ``#``)."""

    kind: str  # "last" | "last_weekday" | "nearest_weekday" | "last_dow" | "nth_dow"
    value: int = 0  # day of month (W), EventBridge weekday 1..7 (L, #)
    nth: int = 0  # k of n#k


@dataclass(frozen=True)
class CronExpression:
    """A parsed ``cron(...)``; ``None`` day sets mean ``?`` (unconstrained)."""

    source: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | DayRule | None
    months: frozenset[int]
    days_of_week: frozenset[int] | DayRule | None  # EventBridge numbering, 1=SUN
    years: frozenset[int]

    def next_after(self, after: datetime) -> datetime:
        """The first firing strictly after ``after``."""
        after = _as_utc(after)
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        first_minute: tuple[int, int] | None = (start.hour, start.minute)
        while day.year <= _MAX_YEAR:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                first_minute = None
                continue
            if day.month not in self.months:
                day = _first_of_next_month(day)
                first_minute = None
                continue
            if self._day_matches(day):
                found = self._time_on(day, first_minute)
                if found is not None:
                    return found
            day += timedelta(days=1)
            first_minute = None
        raise ValueError(f"{self.source} never fires after {after.isoformat()}")

    def _time_on(self, day: date, not_before: tuple[int, int] | None) -> datetime | None:
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                if not_before is None or (hour, minute) >= not_before:
                    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        return None

    def _day_matches(self, day: date) -> bool:
        return _matches_dom(self.days_of_month, day) and _matches_dow(self.days_of_week, day)


@dataclass(frozen=True)
class RateExpression:
    """A parsed ``rate(...)``."""

    source: str
    period: timedelta

    def next_after(self, after: datetime, *, anchor: datetime = EPOCH) -> datetime:
        """The first ``anchor + k * period`` strictly after ``after`` (k may be 0)."""
        after, anchor = _as_utc(after), _as_utc(anchor)
        if after < anchor:
            return anchor
        periods = (after - anchor) // self.period + 1
        return anchor + periods * self.period


ScheduleExpression = CronExpression | RateExpression

_CRON = re.compile(r"^cron\((.*)\)$")
_RATE = re.compile(r"^rate\((.*)\)$")
_RATE_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def parse(expression: str) -> ScheduleExpression:
    """Parse an EventBridge schedule expression; raises ``ValueError`` saying what is wrong."""
    text = expression.strip()
    if m := _CRON.match(text):
        return _parse_cron(text, m.group(1))
    if m := _RATE.match(text):
        return _parse_rate(text, m.group(1))
    raise ValueError(f"{expression!r} is not a schedule expression: expected cron(...) or rate(...)")


def next_fire(expression: str | ScheduleExpression, after: datetime, *, anchor: datetime = EPOCH) -> datetime:
    """The first firing of ``expression`` strictly after ``after`` (a timezone-aware datetime).

    ``anchor`` is where a ``rate(...)`` counts its periods from; cron ignores it.
    The result is in UTC.
    """
    parsed = parse(expression) if isinstance(expression, str) else expression
    if isinstance(parsed, RateExpression):
        return parsed.next_after(after, anchor=anchor)
    return parsed.next_after(after)


def _parse_rate(source: str, body: str) -> RateExpression:
    parts = body.split()
    if len(parts) != 2 or not parts[0].isdigit():
        raise ValueError(f"{source}: expected rate(<positive integer> <unit>), e.g. rate(5 minutes)")
    value, unit = int(parts[0]), parts[1].lower()
    if value <= 0:
        raise ValueError(f"{source}: the value must be a positive integer")
    singular = unit[:-1] if unit.endswith("s") else unit
    if singular not in _RATE_UNITS:
        raise ValueError(f"{source}: unit must be minute(s), hour(s) or day(s), not {parts[1]!r}")
    if value == 1 and unit != singular:
        raise ValueError(f"{source}: write rate(1 {singular}), singular when the value is 1")
    if value > 1 and unit == singular:
        raise ValueError(f"{source}: write rate({value} {singular}s), plural when the value is above 1")
    return RateExpression(source, _RATE_UNITS[singular] * value)


def _parse_cron(source: str, body: str) -> CronExpression:
    fields = body.split()
    if len(fields) != 6:
        raise ValueError(
            f"{source}: expected 6 fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(fields)}"
        )
    minute_f, hour_f, dom_f, month_f, dow_f, year_f = (f.upper() for f in fields)
    if (dom_f == "?") == (dow_f == "?"):
        raise ValueError(
            f"{source}: exactly one of day-of-month and day-of-week must be '?' (got {dom_f!r} and {dow_f!r})"
        )
    return CronExpression(
        source=source,
        minutes=_field(source, "minutes", minute_f, 0, 59),
        hours=_field(source, "hours", hour_f, 0, 23),
        days_of_month=None if dom_f == "?" else _dom_field(source, dom_f),
        months=_field(source, "month", month_f, 1, 12, _MONTHS),
        days_of_week=None if dow_f == "?" else _dow_field(source, dow_f),
        years=_field(source, "year", year_f, 1970, _MAX_YEAR),
    )


def _field(
    source: str, name: str, text: str, low: int, high: int, names: dict[str, int] | None = None
) -> frozenset[int]:
    if text == "?":
        raise ValueError(f"{source}: '?' is only allowed in day-of-month or day-of-week, not {name}")
    values: set[int] = set()
    for part in text.split(","):
        values.update(_part(source, name, part, low, high, names or {}))
    return frozenset(values)


def _part(source: str, name: str, part: str, low: int, high: int, names: dict[str, int]) -> range:
    def number(token: str) -> int:
        if token in names:
            return names[token]
        if not token.isdigit():
            raise ValueError(f"{source}: {token!r} is not a valid {name} value")
        value = int(token)
        if not low <= value <= high:
            raise ValueError(f"{source}: {name} value {value} is outside {low}-{high}")
        return value

    base, _, step_text = part.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"{source}: step {step_text!r} in {name} must be a positive integer")
        step = int(step_text)
    if base == "*":
        first, last = low, high
    elif "-" in base:
        a, _, b = base.partition("-")
        first, last = number(a), number(b)
        if first > last:
            raise ValueError(f"{source}: {name} range {base} runs backwards")
    else:
        first = number(base)
        last = high if step_text else first
    return range(first, last + 1, step)


def _dom_field(source: str, text: str) -> frozenset[int] | DayRule:
    if text == "L":
        return DayRule("last")
    if text == "LW":
        return DayRule("last_weekday")
    if text.endswith("W"):
        day = text[:-1]
        if not day.isdigit() or not 1 <= int(day) <= 31:
            raise ValueError(f"{source}: {text!r} must be nW with n in 1-31")
        return DayRule("nearest_weekday", int(day))
    if "L" in text or "W" in text or "#" in text:
        raise ValueError(f"{source}: day-of-month {text!r} mixes L/W with other values, which is unsupported")
    return _field(source, "day-of-month", text, 1, 31)


def _dow_field(source: str, text: str) -> frozenset[int] | DayRule:
    def weekday(token: str) -> int:
        if token in _WEEKDAYS:
            return _WEEKDAYS[token]
        if not token.isdigit() or not 1 <= int(token) <= 7:
            raise ValueError(f"{source}: {token!r} is not a day of the week (1-7 or SUN-SAT)")
        return int(token)

    if text == "L":
        return frozenset({7})  # L alone in day-of-week is the last day of the week, SAT
    if text.endswith("L") and "," not in text:
        return DayRule("last_dow", weekday(text[:-1]))
    if "#" in text:
        day, _, nth = text.partition("#")
        if "," in text or not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise ValueError(f"{source}: {text!r} must be d#k with k in 1-5, alone in its field")
        return DayRule("nth_dow", weekday(day), int(nth))
    if re.search("[LW#]", re.sub("|".join(_WEEKDAYS), "", text)):
        raise ValueError(f"{source}: day-of-week {text!r} uses L/W in a way that is unsupported")
    return _field(source, "day-of-week", text, 1, 7, _WEEKDAYS)


# --------------------------------------------------------------------------- day matching
def _eb_weekday(day: date) -> int:
    """EventBridge weekday of ``day``: 1=SUN .. 7=SAT (Python's weekday() is 0=MON)."""
    return (day.weekday() + 1) % 7 + 1


def _matches_dom(rule: frozenset[int] | DayRule | None, day: date) -> bool:
    if rule is None:
        return True
    if isinstance(rule, frozenset):
        return day.day in rule
    last = calendar.monthrange(day.year, day.month)[1]
    if rule.kind == "last":
        return day.day == last
    target = last if rule.kind == "last_weekday" else rule.value
    if target > last:
        return False
    return day.day == _nearest_weekday(day.replace(day=target)).day


def _nearest_weekday(day: date) -> date:
    """The weekday nearest ``day`` without leaving its month (Quartz/EventBridge ``W``)."""
    if day.weekday() == 5:  # Saturday: Friday before, unless that leaves the month
        return day - timedelta(days=1) if day.day > 1 else day + timedelta(days=2)
    if day.weekday() == 6:  # Sunday: Monday after, unless that leaves the month
        last = calendar.monthrange(day.year, day.month)[1]
        return day + timedelta(days=1) if day.day < last else day - timedelta(days=2)
    return day


def _matches_dow(rule: frozenset[int] | DayRule | None, day: date) -> bool:
    if rule is None:
        return True
    if isinstance(rule, frozenset):
        return _eb_weekday(day) in rule
    if _eb_weekday(day) != rule.value:
        return False
    if rule.kind == "last_dow":
        return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    return (day.day - 1) // 7 + 1 == rule.nth


def _first_of_next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no timezone; pass an aware datetime (UTC)")
    return moment.astimezone(UTC)
