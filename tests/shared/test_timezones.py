"""The time zone rules of DATA.md: naive provider times are Japan time, stored UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from avs_shared.timezones import (
    JST,
    broadcast_instants,
    day_start,
    format_utc,
    from_unix,
    is_unknown,
    jst_day_start,
    jst_to_utc,
    next_broadcast,
    parse_provider_datetime,
    parse_provider_time,
    parse_time_of_day,
    parse_weekday,
    to_utc,
    zone_of,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_a_saturday_0030_jst_broadcast_airs_on_friday_1530_utc() -> None:
    # 2025-09-05 is a Friday; the whole week around it.
    found = broadcast_instants("Saturdays", "00:30", "Asia/Tokyo", start=utc(2025, 9, 1), end=utc(2025, 9, 8))
    assert found == [utc(2025, 9, 5, 15, 30)]
    assert found[0].weekday() == 4  # Friday in UTC
    assert found[0].astimezone(JST).weekday() == 5  # Saturday in Japan


def test_a_sunday_morning_jst_slot_is_saturday_night_utc() -> None:
    assert next_broadcast("Sundays", "08:00", "Asia/Tokyo", after=utc(2025, 9, 1)) == utc(2025, 9, 6, 23, 0)


def test_a_slot_just_after_midnight_utc_stays_on_its_day() -> None:
    # 09:30 JST = 00:30 UTC the same day.
    assert next_broadcast("Mondays", "09:30", None, after=utc(2025, 9, 1)) == utc(2025, 9, 1, 0, 30)


def test_japanese_late_night_notation_rolls_into_the_next_day() -> None:
    # "Friday 25:30" is Saturday 01:30 JST = Friday 16:30 UTC.
    assert next_broadcast("Fridays", "25:30", "Asia/Tokyo", after=utc(2025, 9, 1)) == utc(2025, 9, 5, 16, 30)


def test_the_window_is_half_open_and_lists_every_week() -> None:
    slot = utc(2025, 9, 5, 15, 30)
    assert broadcast_instants(
        "Saturdays", "00:30", "Asia/Tokyo", start=slot, end=slot + timedelta(days=14)
    ) == [
        slot,
        slot + timedelta(days=7),
    ]
    assert broadcast_instants("Saturdays", "00:30", "Asia/Tokyo", start=utc(2025, 9, 1), end=slot) == []


def test_a_zone_with_daylight_saving_keeps_its_wall_clock() -> None:
    # 20:00 in New York: 00:00 UTC in summer (EDT), 01:00 UTC in winter (EST).
    summer = next_broadcast("Wednesdays", "20:00", "America/New_York", after=utc(2025, 7, 1))
    winter = next_broadcast("Wednesdays", "20:00", "America/New_York", after=utc(2025, 12, 1))
    assert summer == utc(2025, 7, 3, 0, 0)
    assert winter == utc(2025, 12, 4, 1, 0)


@pytest.mark.parametrize("day", [None, "", "Unknown", "Someday"])
def test_an_unknown_day_has_no_instants(day: str | None) -> None:
    assert broadcast_instants(day, "00:30", "Asia/Tokyo", start=utc(2025, 9, 1), end=utc(2025, 9, 30)) == []


@pytest.mark.parametrize("time_text", [None, "", "Unknown", "30:00", "12:75"])
def test_an_unknown_time_has_no_instants(time_text: str | None) -> None:
    assert broadcast_instants("Mondays", time_text, None, start=utc(2025, 9, 1), end=utc(2025, 9, 30)) == []


def test_an_unknown_zone_is_an_error_that_names_it() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        zone_of("Mars/Olympus")
    assert zone_of(None) is JST and zone_of("JST") == zone_of("Asia/Tokyo")


@pytest.mark.parametrize(
    ("text", "weekday"),
    [
        ("Saturdays", 5),
        ("saturday", 5),
        ("Sat", 5),
        ("Mondays", 0),
        ("土曜日", 5),
        ("日", 6),
        ("Unknown", None),
    ],
)
def test_weekdays_in_the_forms_providers_write(text: str, weekday: int | None) -> None:
    assert parse_weekday(text) == weekday


def test_times_of_day() -> None:
    assert parse_time_of_day("00:30") == (0, 30, 0)
    assert parse_time_of_day("23:59:59") == (23, 59, 59)
    assert parse_time_of_day("25:30") == (25, 30, 0)
    assert parse_time_of_day("noon") is None


# ----------------------------------------------------------------------------- provider values
def test_a_naive_provider_time_is_japan_time() -> None:
    assert parse_provider_time("2025-09-06T00:30:00") == utc(2025, 9, 5, 15, 30)
    assert parse_provider_time("2025-09-06 00:30") == utc(2025, 9, 5, 15, 30)
    assert jst_to_utc(datetime(2025, 1, 1, 0, 0)) == utc(2024, 12, 31, 15, 0)


def test_an_explicit_offset_is_kept() -> None:
    assert parse_provider_time("2025-09-05T15:30:00Z") == utc(2025, 9, 5, 15, 30)
    assert parse_provider_time("2025-09-06T00:30:00+09:00") == utc(2025, 9, 5, 15, 30)
    assert to_utc(datetime(2025, 9, 5, 12, 0, tzinfo=timezone(timedelta(hours=-3)))) == utc(2025, 9, 5, 15, 0)


def test_the_servers_local_zone_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        assert parse_provider_time("2025-09-06T00:30:00") == utc(2025, 9, 5, 15, 30)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_date_only_value_stays_a_date() -> None:
    value = parse_provider_time("2022-01-11")
    assert value == date(2022, 1, 11) and not isinstance(value, datetime)


@pytest.mark.parametrize("text", ["0001-01-01", "0001-01-01T00:00:00Z", "", "   ", None])
def test_0001_01_01_and_empty_mean_unknown(text: str | None) -> None:
    assert parse_provider_time(text) is None
    assert parse_provider_datetime(text) is None


def test_unknown_markers() -> None:
    assert is_unknown(None) and is_unknown(date(1, 1, 1)) and is_unknown(utc(1, 1, 1))
    assert not is_unknown(date(2025, 1, 1))


def test_a_date_as_an_instant_is_the_start_of_the_japanese_day() -> None:
    assert parse_provider_datetime("2025-09-06") == utc(2025, 9, 5, 15, 0)
    assert jst_day_start(date(2025, 9, 6)) == utc(2025, 9, 5, 15, 0)
    assert day_start(date(2025, 9, 6), UTC) == utc(2025, 9, 6)


def test_garbage_is_an_error_that_quotes_it() -> None:
    with pytest.raises(ValueError, match="'next week'"):
        parse_provider_time("next week")


def test_anilist_airing_at_is_unix_time_in_utc() -> None:
    assert from_unix(1_757_086_200) == utc(2025, 9, 5, 15, 30)


def test_formatting_is_utc_with_z() -> None:
    assert format_utc(utc(2025, 9, 5, 15, 30)) == "2025-09-05T15:30:00Z"
    assert format_utc(datetime(2025, 9, 6, 0, 30)) == "2025-09-05T15:30:00Z"  # naive = JST
