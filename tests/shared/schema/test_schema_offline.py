"""The raw offline-database models: records, header, JSONL stream, dead entries."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from avs_shared.schema import (
    AnimeStatus,
    AnimeType,
    DeadEntries,
    OfflineDatabase,
    OfflineDatabaseHeader,
    OfflineRecord,
    Season,
)

Load = Callable[[str], dict[str, Any]]


@pytest.mark.parametrize("name", ["offline_record_full.json", "offline_record_minimal.json"])
def test_records_round_trip_exactly(fixture_json: Load, name: str) -> None:
    data = fixture_json(name)
    original = copy.deepcopy(data)

    assert OfflineRecord.from_json_dict(data).to_json_dict() == original


def test_full_record_is_typed(fixture_json: Load) -> None:
    record = OfflineRecord.from_json_dict(fixture_json("offline_record_full.json"))

    assert record.type is AnimeType.TV
    assert record.anime_season.season is Season.SPRING
    assert record.anime_season.year == 2021
    assert record.duration is not None and (record.duration.value, record.duration.unit) == (1440, "SECONDS")
    assert record.score is not None and record.score.arithmetic_geometric_mean == 7.012345678
    assert record.related_anime == ["https://myanimelist.net/anime/990010"]


def test_minimal_record_has_absent_optionals_and_keeps_unknown_keys(fixture_json: Load) -> None:
    record = OfflineRecord.from_json_dict(fixture_json("offline_record_minimal.json"))

    assert record.type is AnimeType.UNKNOWN
    assert record.status is AnimeStatus.UNKNOWN
    assert record.anime_season.season is Season.UNDEFINED
    assert record.anime_season.year is None
    assert record.duration is None and record.score is None
    assert record.model_extra == {"futureField": {"introduced": "later"}}
    assert "duration" not in record.to_json_dict()


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda d: d.pop("sources"), ("sources",)),
        (lambda d: d.pop("animeSeason"), ("animeSeason",)),
        (lambda d: d.update(status="AIRING"), ("status",)),
        (lambda d: d.update(episodes=-3), ("episodes",)),
        (lambda d: d["duration"].update(unit="MINUTES"), ("duration", "unit")),
        (lambda d: d["animeSeason"].update(season="AUTUMN"), ("animeSeason", "season")),
    ],
)
def test_invalid_records_are_rejected_at_the_field(
    fixture_json: Load, change: Callable[[dict[str, Any]], object], loc: tuple[str, ...]
) -> None:
    data = fixture_json("offline_record_full.json")
    change(data)

    with pytest.raises(ValidationError) as info:
        OfflineRecord.from_json_dict(data)
    assert [tuple(e["loc"]) for e in info.value.errors()] == [loc]


def test_header_round_trips_with_schema_key(fixture_json: Load) -> None:
    data = fixture_json("offline_header.json")

    header = OfflineDatabaseHeader.from_json_dict(data)

    assert header.last_update == date(2026, 1, 10)
    assert header.schema_ is not None and header.schema_.endswith("minified.schema.json")
    assert header.score_range.max_inclusive == 10.0
    assert header.to_json_dict() == fixture_json("offline_header.json")


def test_jsonl_stream_is_a_header_line_then_records(fixtures_dir: Path) -> None:
    lines = (fixtures_dir / "offline_database.jsonl").read_text(encoding="utf-8").splitlines()

    header = OfflineDatabaseHeader.from_json(lines[0])
    records = [OfflineRecord.from_json(line) for line in lines[1:]]

    assert header.repository == "https://github.com/manami-project/anime-offline-database"
    assert [r.title for r in records] == ["Hoshizora Relay", "Untitled Pilot"]
    assert [r.to_json_dict() for r in records] == [json.loads(line) for line in lines[1:]]


def test_minified_root_round_trips(fixture_json: Load) -> None:
    root = fixture_json("offline_header.json")
    root["data"] = [fixture_json("offline_record_full.json"), fixture_json("offline_record_minimal.json")]

    database = OfflineDatabase.from_json_dict(root)

    assert len(database.data) == 2
    assert database.to_json_dict() == root


def test_dead_entries_round_trip(fixture_json: Load) -> None:
    dead = DeadEntries.from_json_dict(fixture_json("offline_dead_entries.json"))

    assert dead.dead_entries == ["990900", "990901"]
    assert dead.to_json_dict() == fixture_json("offline_dead_entries.json")
