"""UtcDatetime: UTC values that serialize back to the exact text they were read from."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from avs_shared.schema import AiredDates, EpisodeDetail, format_utc_datetime


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2021-04-06T15:00:00Z", datetime(2021, 4, 6, 15, tzinfo=UTC)),
        ("2025-07-24T19:42:09.282039Z", datetime(2025, 7, 24, 19, 42, 9, 282039, tzinfo=UTC)),
        ("2021-04-07T00:00:00+09:00", datetime(2021, 4, 6, 15, tzinfo=UTC)),
        ("2021-04-06T15:00:00.000Z", datetime(2021, 4, 6, 15, tzinfo=UTC)),
        ("2021-04-06T15:00:00+00:00", datetime(2021, 4, 6, 15, tzinfo=UTC)),
    ],
)
def test_text_is_parsed_to_utc_and_written_back_unchanged(text: str, value: datetime) -> None:
    episode = EpisodeDetail.from_json_dict({"episode_number": 1, "aired": text})

    assert episode.aired == value
    assert episode.aired is not None and episode.aired.utcoffset() == timedelta(0)
    assert episode.to_json_dict() == {"episode_number": 1, "aired": text}
    assert episode.model_copy(deep=True).to_json_dict()["aired"] == text


def test_values_built_in_python_are_written_in_canonical_utc_form() -> None:
    tokyo = timezone(timedelta(hours=9))
    dates = AiredDates(
        from_=datetime(2021, 4, 7, 0, 0, tzinfo=tokyo), to=datetime(2021, 6, 1, 1, 2, 3, 4, tzinfo=UTC)
    )

    assert dates.to_json_dict() == {"from": "2021-04-06T15:00:00Z", "to": "2021-06-01T01:02:03.000004Z"}


def test_a_computed_datetime_forgets_the_source_text() -> None:
    dates = AiredDates.from_json_dict({"from": "2021-04-07T00:00:00+09:00"})
    assert dates.from_ is not None

    later = dates.from_ + timedelta(days=1)

    assert format_utc_datetime(later) == "2021-04-07T15:00:00Z"
    assert format_utc_datetime(copy.copy(dates.from_)) == "2021-04-07T00:00:00+09:00"


def test_aired_dates_from_is_aliased() -> None:
    dates = AiredDates.from_json_dict({"from": "2021-04-06T15:00:00Z", "string": "Apr 7, 2021"})

    assert dates.from_ == datetime(2021, 4, 6, 15, tzinfo=UTC)
    assert dates.model_extra == {}
    assert dates.to_json_dict() == {"from": "2021-04-06T15:00:00Z", "string": "Apr 7, 2021"}


@pytest.mark.parametrize("bad", ["2021-04-06T15:00:00", 1617721200, 1617721200.5, "not a date"])
def test_naive_or_numeric_datetimes_are_rejected(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        EpisodeDetail.from_json_dict({"episode_number": 1, "aired": bad})

    assert info.value.errors()[0]["loc"] == ("aired",)
