"""When the next episode airs and when an upcoming anime premieres (UTC, from JST data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from avs_sync.airing import premiere, upcoming_episodes

FRIDAY = datetime(2025, 9, 5, 0, 5, tzinfo=UTC)  # the daily run's time, a Friday
DAY = timedelta(days=1)
SATURDAY_0030_JST = {"day": "Saturdays", "time": "00:30", "timezone": "Asia/Tokyo"}


def eps(*numbers_and_dates: tuple[int, str | None]) -> list[dict[str, Any]]:
    return [{"episode_number": n, **({"aired": a} if a else {})} for n, a in numbers_and_dates]


def test_a_saturday_jst_slot_is_due_in_fridays_utc_window_as_the_next_episode() -> None:
    doc = {
        "episodes": 12,
        "broadcast": SATURDAY_0030_JST,
        "episode_details": eps((1, "2025-08-15T15:30:00Z"), (2, "2025-08-22T15:30:00Z"), (3, None)),
    }
    assert upcoming_episodes(doc, FRIDAY, FRIDAY + DAY) == [(4, datetime(2025, 9, 5, 15, 30, tzinfo=UTC))]
    assert upcoming_episodes(doc, FRIDAY + DAY, FRIDAY + 2 * DAY) == []


def test_a_listed_episode_in_the_window_wins_over_the_weekly_slot() -> None:
    doc = {
        "broadcast": SATURDAY_0030_JST,
        "episode_details": eps(
            (7, "2025-08-29T15:30:00Z"), (8, "2025-09-05T18:00:00Z"), (9, "2025-09-12T18:00:00Z")
        ),
    }
    assert upcoming_episodes(doc, FRIDAY, FRIDAY + DAY) == [(8, datetime(2025, 9, 5, 18, 0, tzinfo=UTC))]


def test_a_naive_jpn_time_is_japan_time() -> None:
    doc = {"broadcast_schedule": {"jpn_time": "2025-09-06T01:00:00"}, "episode_details": eps((1, None))}
    assert upcoming_episodes(doc, FRIDAY, FRIDAY + DAY) == [(2, datetime(2025, 9, 5, 16, 0, tzinfo=UTC))]


def test_a_known_next_airing_outside_the_window_means_not_today() -> None:
    doc = {"broadcast_schedule": {"jpn_time": "2025-09-13T00:30:00+09:00"}, "broadcast": SATURDAY_0030_JST}
    assert upcoming_episodes(doc, FRIDAY, FRIDAY + DAY) == []


def test_no_episode_beyond_the_known_total() -> None:
    doc = {
        "episodes": 3,
        "broadcast": SATURDAY_0030_JST,
        "episode_details": eps((1, None), (2, None), (3, None)),
    }
    assert upcoming_episodes(doc, FRIDAY, FRIDAY + DAY) == []


def test_a_delayed_timetable_suspends_the_weekly_slot() -> None:
    doc: dict[str, Any] = {"broadcast": SATURDAY_0030_JST, "delay_information": {"delayed_timetable": True}}
    assert upcoming_episodes(doc, FRIDAY, FRIDAY + DAY) == []
    doc["delay_information"]["delayed_until"] = "2025-09-01"
    assert upcoming_episodes(doc, FRIDAY, FRIDAY + DAY) == [(1, datetime(2025, 9, 5, 15, 30, tzinfo=UTC))]


def test_unknown_broadcast_means_nothing_scheduled() -> None:
    assert upcoming_episodes({"broadcast": {"day": "Unknown", "time": None}}, FRIDAY, FRIDAY + DAY) == []
    assert (
        upcoming_episodes(
            {"broadcast": {"day": "Mondays", "time": "10:00", "timezone": "Nowhere/x"}}, FRIDAY, FRIDAY + DAY
        )
        == []
    )
    assert upcoming_episodes({}, FRIDAY, FRIDAY + DAY) == []


def test_a_date_only_premiere_is_its_slot_on_that_japanese_day() -> None:
    doc = {"premiere_dates": {"original": "2025-09-06"}, "broadcast": SATURDAY_0030_JST}
    assert premiere(doc) == datetime(2025, 9, 5, 15, 30, tzinfo=UTC)


def test_a_date_only_premiere_without_a_slot_starts_with_the_japanese_day() -> None:
    assert premiere({"premiere_dates": {"original": "2025-09-06"}}) == datetime(2025, 9, 5, 15, 0, tzinfo=UTC)
    # Jikan writes a bare date as midnight UTC: the same day.
    assert premiere({"aired_dates": {"from": "2025-09-06T00:00:00Z"}}) == datetime(
        2025, 9, 5, 15, 0, tzinfo=UTC
    )


def test_an_exact_premiere_time_is_used_as_is() -> None:
    assert premiere({"broadcast_schedule": {"jpn_time": "2025-09-05T15:30:00Z"}}) == datetime(
        2025, 9, 5, 15, 30, tzinfo=UTC
    )
    assert premiere({"premiere_dates": {"original": "2025-09-06T00:30:00"}}) == datetime(
        2025, 9, 5, 15, 30, tzinfo=UTC
    )


def test_unknown_premiere() -> None:
    assert premiere({"premiere_dates": {"original": "0001-01-01"}}) is None
    assert premiere({}) is None
