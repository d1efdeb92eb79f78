"""When an anime airs: aired dates, broadcast slot, premieres and delays.

Only ``aired_dates`` holds datetimes. The other values are provider text in mixed
forms (``2022-01-11``, ``2020-10-07T00:00:00Z``, ``0001-01-01`` for unknown, local
times of day), so they are kept as strings to round-trip unchanged.
"""

from __future__ import annotations

from pydantic import Field

from avs_shared.schema.common import SchemaModel, UtcDatetime


class AiredDates(SchemaModel):
    """First and last air dates (``from`` in JSON; ``from_`` in Python)."""

    from_: UtcDatetime | None = Field(default=None, alias="from")
    to: UtcDatetime | None = None
    string: str | None = None


class Broadcast(SchemaModel):
    """Weekly broadcast slot as the provider states it (e.g. ``Asia/Tokyo``)."""

    day: str | None = None
    time: str | None = None
    timezone: str | None = None


class BroadcastSchedule(SchemaModel):
    """Broadcast times of the Japanese original, the subtitled and the dubbed versions."""

    jpn_time: str | None = None
    sub_time: str | None = None
    dub_time: str | None = None


class PremiereDates(SchemaModel):
    """Premiere of the original, sub and dub (date or datetime text)."""

    original: str | None = None
    sub: str | None = None
    dub: str | None = None


class DelayInformation(SchemaModel):
    """Whether and why the airing timetable is delayed."""

    delayed_timetable: bool | None = None
    delayed_from: str | None = None
    delayed_until: str | None = None
    delay_reason: str | None = None
