"""Provider ids from ``sources`` and provider times in UTC (DATA.md's rules)."""

from __future__ import annotations

import pytest

from avs_enricher.providers.ids import provider_ids
from avs_enricher.settings import EnricherSettings
from avs_enricher.times import broadcast_utc, date_or_instant, instant, month_name, unix_instant
from avs_shared.errors import ConfigurationError
from avs_shared.settings import load_settings


def test_ids_come_from_every_spelling_of_a_provider_page() -> None:
    ids = provider_ids(
        [
            "http://www.myanimelist.net/anime/5114/",
            "https://anilist.co/anime/5114",
            "https://kitsu.io/anime/fullmetal-alchemist-brotherhood",
            "https://anidb.net/anime/6107",
            "https://anime-planet.com/anime/fullmetal-alchemist-brotherhood",
            "https://notify.moe/anime/0Ea3H8KiR",
            "https://livechart.me/anime/3437",
            "https://anisearch.com/anime/5202",
            "https://simkl.com/anime/36297",
        ]
    )
    assert ids.as_dict() == {
        "mal": 5114,
        "anilist": 5114,
        "kitsu": "fullmetal-alchemist-brotherhood",
        "anidb": 6107,
        "animeplanet": "fullmetal-alchemist-brotherhood",
        "anisearch": 5202,
        "livechart": 3437,
        "notify": "0Ea3H8KiR",
    }


def test_the_first_page_of_a_provider_wins_and_junk_is_ignored() -> None:
    ids = provider_ids(
        [
            "not a url",
            "https://myanimelist.net/anime/2",
            "https://myanimelist.net/anime/1",
            "https://myanimelist.net/manga/3",
            "https://kitsu.app/anime/12",
        ]
    )
    assert ids.mal == 2
    assert ids.kitsu == "12"
    assert ids.anilist is None and ids.anidb is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-05T23:30:00", "2024-01-05T14:30:00Z"),  # naive provider time: Japan time
        ("2024-01-05T00:00:00+09:00", "2024-01-04T15:00:00Z"),  # an offset means what it says
        ("2024-01-05T14:30:00Z", "2024-01-05T14:30:00Z"),
        ("2024-01-05", "2024-01-05T00:00:00Z"),  # a date keeps its calendar day
        ("0001-01-01T00:00:00Z", None),  # unknown
        ("0001-01-01", None),
        ("", None),
        ("next tuesday", None),
        (None, None),
    ],
)
def test_instants_are_utc(value: str | None, expected: str | None) -> None:
    assert instant(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-10-05", "2017-10-05"),  # date-only stays a date
        ("2024-01-19T23:30:00", "2024-01-19T14:30:00Z"),
        ("2009-12-26T00:00:00Z", "2009-12-26T00:00:00Z"),
        ("0001-01-01T00:00:00Z", None),
    ],
)
def test_dates_stay_dates_and_times_become_utc(value: str, expected: str | None) -> None:
    assert date_or_instant(value) == expected


def test_anilist_airing_at_is_unix_utc() -> None:
    assert unix_instant(1704465000) == "2024-01-05T14:30:00Z"
    assert unix_instant(0) is None and unix_instant("1704465000") is None and unix_instant(True) is None


@pytest.mark.parametrize(
    ("day", "time", "zone", "expected"),
    [
        ("Saturdays", "01:30", "Asia/Tokyo", {"day": "Fridays", "time": "16:30", "timezone": "UTC"}),
        ("Fridays", "23:30", "Asia/Tokyo", {"day": "Fridays", "time": "14:30", "timezone": "UTC"}),
        (
            "Friday",
            "25:30",
            "Asia/Tokyo",
            {"day": "Friday", "time": "16:30", "timezone": "UTC"},
        ),  # JP late night
        ("Mondays", "08:00", None, {"day": "Sundays", "time": "23:00", "timezone": "UTC"}),  # no zone: JST
        ("Mondays", "08:00", "UTC", {"day": "Mondays", "time": "08:00", "timezone": "UTC"}),
        ("Unknown", None, None, None),
        ("Mondays", "08:00", "Mars/Olympus", None),
    ],
)
def test_jikan_broadcast_slots_move_to_utc(
    day: str, time: str | None, zone: str | None, expected: dict[str, str] | None
) -> None:
    assert broadcast_utc(day, time, zone) == expected


def test_month_names_come_from_the_date() -> None:
    assert month_name("2020-10-07T00:00:00Z") == "October"
    assert month_name("2021-04-03") == "April"
    assert month_name("0001-01-01") is None


def test_a_heartbeat_not_below_the_review_timeout_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVS_ENRICHER_REVIEW_TIMEOUT_SECONDS", "3600")
    monkeypatch.setenv("AVS_ENRICHER_REVIEW_HEARTBEAT_SECONDS", "3600")
    with pytest.raises(ConfigurationError, match="heartbeat_seconds must be below"):
        load_settings(EnricherSettings)
    monkeypatch.setenv("AVS_ENRICHER_PROVIDERS", '["jikan", "mal"]')
    monkeypatch.setenv("AVS_ENRICHER_REVIEW_HEARTBEAT_SECONDS", "600")
    with pytest.raises(ConfigurationError, match="AVS_ENRICHER_PROVIDERS"):
        load_settings(EnricherSettings)
