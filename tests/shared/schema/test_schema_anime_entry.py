"""AnimeEntry: validation of every nested type and real-data quirk, exact round trip."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from avs_shared.schema import (
    AnimeEntry,
    AnimeStatus,
    AnimeType,
    Character,
    ImagePlaceholder,
    Season,
    StaffMember,
    SystemStatus,
    VoiceActorStaff,
)

Load = Callable[[str], dict[str, Any]]

ENTRY_FIXTURES = ["entry_full.json", "entry_music_minimal.json", "entry_pv_quirks.json"]


@pytest.mark.parametrize("name", ENTRY_FIXTURES)
def test_round_trip_reproduces_the_input_exactly(fixture_json: Load, name: str) -> None:
    data = fixture_json(name)
    original = copy.deepcopy(data)

    entry = AnimeEntry.from_json_dict(data)

    assert entry.to_json_dict() == original
    assert data == original  # validation does not touch the input
    # Same through JSON text, both ways, compared as text to catch int/float or format drift.
    text_out = AnimeEntry.from_json(json.dumps(original)).to_json()
    assert json.dumps(json.loads(text_out), sort_keys=True) == json.dumps(original, sort_keys=True)


def test_full_entry_exposes_typed_nested_values(fixture_json: Load) -> None:
    entry = AnimeEntry.from_json_dict(fixture_json("entry_full.json"))

    assert entry.type is AnimeType.TV
    assert entry.status is AnimeStatus.FINISHED
    assert entry.season is Season.SPRING
    assert entry.source_material == "LIGHT NOVEL"
    assert entry.episodes == 3

    aoi = entry.characters[0]
    assert aoi.name_kanji == "星野葵"
    assert aoi.character_ids == {"mal": 880001, "anilist": 880002, "kitsu": "aoi-hoshino"}
    assert aoi.character_pages["anilist"] == "https://anilist.co/character/880002"
    assert aoi.voice_actors[0].name == "Mika Tanabe"
    assert aoi.voice_actors[0].language == "Japanese"
    assert aoi.images[0] == "https://img.example.org/characters/aoi-large.png"
    assert aoi.images[1] == ImagePlaceholder(
        image_url="https://img.example.org/characters/aoi-broken.png", error_message="HTTP 404"
    )
    assert entry.characters[1].age == 17

    first, untitled, titleless = entry.episode_details
    assert first.aired == datetime(2021, 4, 6, 15, 0, tzinfo=UTC)
    assert first.streaming["examplestream"] == {
        "url": "https://stream.example.org/hsr/1",
        "regions": ["JP", "US"],
    }
    assert untitled.title == ""
    assert untitled.aired == datetime(2021, 4, 13, 15, 0, 0, 250000, tzinfo=UTC)
    assert titleless.title is None

    assert [r.relation_type for r in entry.related_anime] == ["SEQUEL", "SIDE STORY"]
    assert entry.related_anime[1].url is None
    assert entry.relations[0].relation_type == "ADAPTATION"
    assert entry.themes[1].description is None
    assert entry.opening_themes[0].episodes == "1-3"
    assert entry.ending_themes[0].artist is None
    assert entry.trailers[1].url is None
    assert entry.streaming_info[0].subtitle_languages == ["en", "es"]

    assert entry.images.posters == ["https://img.example.org/anime/hsr-poster.jpg"]
    placeholder = entry.images.covers[1]
    assert isinstance(placeholder, ImagePlaceholder)
    assert placeholder.error_message == "timeout after 30s"
    assert placeholder.model_extra == {"attempts": 3}

    assert entry.score is not None and entry.score.median == 7.1
    assert set(entry.statistics) == {"mal", "anilist", "kitsu", "animeplanet", "animeschedule", "anidb"}
    ranks = entry.statistics["anilist"].contextual_ranks
    assert [(r.rank, r.type, r.all_time) for r in ranks] == [(18, "RATED", False), (250, "POPULAR", True)]
    assert entry.statistics["anidb"].members is None

    staff = entry.staff_data
    assert set(staff.production_staff) == {"directors", "music_composers", "chief_mecha_consultants"}
    director = staff.production_staff["directors"][0]
    assert isinstance(director, StaffMember)
    assert director.staff_ids == {"anilist": 300001, "anidb": 40001}
    assert director.years_active == [2004]
    consultant = staff.production_staff["chief_mecha_consultants"][0]
    assert consultant.model_extra == {
        "enhancement_status": "anilist_match_pending",
        "name_japanese": "ボルト太郎",
    }
    assert [c.name for c in staff.licensors] == ["Example Licensing"]
    actor = staff.voice_actors["japanese"][0]
    assert isinstance(actor, VoiceActorStaff)
    assert actor.character_assignments == ["Aoi Hoshino (Comet)"]

    assert entry.aired_dates is not None
    assert entry.aired_dates.from_ == datetime(2021, 4, 6, 15, 0, tzinfo=UTC)
    assert entry.broadcast is not None and entry.broadcast.timezone == "Asia/Tokyo"
    assert entry.broadcast_schedule is not None and entry.broadcast_schedule.dub_time is None
    assert entry.premiere_dates is not None and entry.premiere_dates.dub == "0001-01-01"
    assert entry.delay_information is not None and entry.delay_information.delayed_timetable is True
    assert entry.enrichment_metadata is not None
    assert entry.enrichment_metadata.enriched_at == datetime(2025, 7, 25, 15, 45, 8, 270624, tzinfo=UTC)
    assert entry.external_links["@hsr_anime"] == "https://x.com/hsr_anime"
    assert entry.popularity_trends == {
        "mal_members": [{"date": "2021-05-01", "value": 20000}],
        "direction": "rising",
    }

    assert entry.system_status is SystemStatus.ORPHANED
    assert entry.orphaned_at == datetime(2026, 1, 12, 3, 4, 5, tzinfo=UTC)
    assert entry.version == 7


def test_unknown_keys_are_kept_at_top_level_and_nested(fixture_json: Load) -> None:
    entry = AnimeEntry.from_json_dict(fixture_json("entry_full.json"))

    assert entry.model_extra is not None
    assert entry.model_extra["episode_overrides"]["sub_override"] == {
        "episodes_aired": 2,
        "override_episode": 3,
    }
    assert entry.characters[0].model_extra == {"fan_club_size": 12}
    assert entry.episode_details[2].model_extra == {"provider_flags": ["anidb:special"]}
    out = entry.to_json_dict()
    assert out["episode_overrides"] == fixture_json("entry_full.json")["episode_overrides"]


def test_explicit_nulls_are_kept(fixture_json: Load) -> None:
    out = AnimeEntry.from_json_dict(fixture_json("entry_full.json")).to_json_dict()

    composer = out["staff_data"]["production_staff"]["music_composers"][0]
    assert composer["native_name"] is None
    assert composer["community_favorites"] is None
    assert "biography" not in composer


def test_real_data_quirks_are_accepted(fixture_json: Load) -> None:
    music = AnimeEntry.from_json_dict(fixture_json("entry_music_minimal.json"))
    pv = AnimeEntry.from_json_dict(fixture_json("entry_pv_quirks.json"))

    assert music.type is AnimeType.MUSIC
    assert pv.type is AnimeType.PV
    assert pv.season is Season.UNDEFINED
    assert pv.source_material == "WEB NOVEL"  # not a known MAL value, accepted as text
    assert [e.title for e in pv.episode_details] == ["", None, None]
    assert pv.characters[0].images == [
        ImagePlaceholder(
            image_url="https://img.example.org/characters/narrator.png", error_message="unsupported format"
        )
    ]


def test_defaults_apply_but_are_not_added_on_dump(fixture_json: Load) -> None:
    data = fixture_json("entry_music_minimal.json")
    entry = AnimeEntry.from_json_dict(data)

    assert entry.episodes == 0
    assert entry.system_status is SystemStatus.ACTIVE
    assert entry.version == 0
    assert entry.orphaned_at is None
    assert entry.images.covers == []
    assert entry.characters == []
    assert entry.statistics == {}
    assert set(entry.to_json_dict()) == {"id", "title", "type", "status", "sources"}


def test_changes_made_in_place_on_defaulted_fields_are_dumped(fixture_json: Load) -> None:
    entry = AnimeEntry.from_json_dict(fixture_json("entry_music_minimal.json"))

    entry.images.covers.append("https://cdn.example.org/covers/neon.webp")
    entry.characters.append(Character(name="Singer", role="Main"))
    entry.staff_data.production_staff.setdefault("directors", []).append(StaffMember(name="Kei Ono"))
    out = entry.to_json_dict()

    assert out["images"] == {"covers": ["https://cdn.example.org/covers/neon.webp"]}
    assert out["characters"] == [{"name": "Singer", "role": "Main"}]
    assert out["staff_data"] == {"production_staff": {"directors": [{"name": "Kei Ono"}]}}
    assert "episode_details" not in out  # untouched defaults still not added
    assert "system_status" not in out


def test_system_fields_set_by_code_are_dumped_in_utc(fixture_json: Load) -> None:
    entry = AnimeEntry.from_json_dict(fixture_json("entry_music_minimal.json"))

    entry.system_status = SystemStatus.ORPHANED
    entry.orphaned_at = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    entry.version += 1
    out = entry.to_json_dict()

    assert out["system_status"] == "ORPHANED"
    assert out["orphaned_at"] == "2026-02-03T04:05:06Z"
    assert out["version"] == 1
