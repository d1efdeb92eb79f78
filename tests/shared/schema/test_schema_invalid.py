"""Invalid entries are rejected with the location of the problem."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from avs_shared.schema import AnimeEntry, SystemStatus

Load = Callable[[str], dict[str, Any]]


def _errors(data: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as info:
        AnimeEntry.from_json_dict(data)
    return [(tuple(e["loc"]), e["type"]) for e in info.value.errors()]


def test_missing_title_is_reported_at_title(fixture_json: Load) -> None:
    data = fixture_json("entry_full.json")
    del data["title"]

    assert _errors(data) == [(("title",), "missing")]


@pytest.mark.parametrize("required", ["id", "type", "status", "sources"])
def test_each_required_field_is_required(fixture_json: Load, required: str) -> None:
    data = fixture_json("entry_music_minimal.json")
    del data[required]

    assert _errors(data) == [((required,), "missing")]


def test_unknown_system_status_is_rejected(fixture_json: Load) -> None:
    data = fixture_json("entry_full.json")
    data["system_status"] = "DELETED"

    assert _errors(data) == [(("system_status",), "enum")]


@pytest.mark.parametrize("bad", ["twelve", [12], 2.5, -1])
def test_episodes_must_be_a_non_negative_integer(fixture_json: Load, bad: object) -> None:
    data = fixture_json("entry_music_minimal.json")
    data["episodes"] = bad

    [(loc, _kind)] = _errors(data)
    assert loc == ("episodes",)


def test_unknown_anime_type_is_rejected(fixture_json: Load) -> None:
    data = fixture_json("entry_music_minimal.json")
    data["type"] = "MUSICAL"

    assert _errors(data) == [(("type",), "enum")]


def test_nested_errors_point_into_the_nested_value(fixture_json: Load) -> None:
    data = fixture_json("entry_full.json")
    del data["characters"][1]["role"]
    data["statistics"]["anilist"]["score"] = 69  # 0-100 scale: not normalized

    assert _errors(data) == [
        (("characters", 1, "role"), "missing"),
        (("statistics", "anilist", "score"), "less_than_equal"),
    ]


def test_an_image_must_be_a_url_or_a_complete_placeholder(fixture_json: Load) -> None:
    data = fixture_json("entry_full.json")
    data["images"]["covers"].append({"image_url": "https://img.example.org/x.jpg"})

    locs = {loc for loc, _ in _errors(data)}
    assert locs == {
        ("images", "covers", 2, "str"),
        ("images", "covers", 2, "ImagePlaceholder", "error_message"),
    }


@pytest.mark.parametrize("bad", ["2021-04-06T15:00:00", "2021-04-06", 1617721200, "yesterday"])
def test_episode_aired_needs_an_iso_datetime_with_offset(fixture_json: Load, bad: object) -> None:
    data = fixture_json("entry_full.json")
    data["episode_details"][0]["aired"] = bad

    [(loc, _kind)] = _errors(data)
    assert loc == ("episode_details", 0, "aired")


def test_assignment_is_validated(fixture_json: Load) -> None:
    entry = AnimeEntry.from_json_dict(fixture_json("entry_music_minimal.json"))

    with pytest.raises(ValidationError) as info:
        entry.system_status = "GONE"
    assert info.value.errors()[0]["loc"] == ("system_status",)
    with pytest.raises(ValidationError):
        entry.orphaned_at = datetime(2026, 1, 1)  # naive: which zone?
    assert entry.system_status is SystemStatus.ACTIVE
    assert entry.orphaned_at is None
