"""The precedence rules of the assembly, on hand-made partial entries (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from avs_enricher.assembly import ProviderOutcome, assemble
from avs_shared.schema import OfflineRecord

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
ANIME_ID = "0b5e2b8e-6a0d-5a43-9d55-2f4f0a9d1c11"


def record(**overrides: Any) -> OfflineRecord:
    doc: dict[str, Any] = {
        "sources": ["https://myanimelist.net/anime/90001", "https://anilist.co/anime/190001"],
        "title": "Hoshiakari Unsouya",
        "type": "TV",
        "episodes": 3,
        "status": "FINISHED",
        "animeSeason": {"season": "SPRING", "year": 2021},
        "picture": "https://cdn.myanimelist.net/images/anime/9/90001l.jpg",
        "thumbnail": "https://cdn.myanimelist.net/images/anime/9/90001t.jpg",
        "duration": {"value": 1440, "unit": "SECONDS"},
        "score": {"arithmeticGeometricMean": 7.7, "arithmeticMean": 7.72, "median": 7.7},
        "synonyms": ["Hoshiakari"],
        "studios": ["studio kumo"],
        "producers": [],
        "relatedAnime": ["https://myanimelist.net/anime/90003"],
        "tags": ["adventure", "Flying"],
    }
    doc.update(overrides)
    return OfflineRecord.from_json_dict(doc)


JIKAN: dict[str, Any] = {
    "type": "SPECIAL",
    "status": "ONGOING",
    "title_english": "Starlight Courier (MAL)",
    "title_japanese": "星明かり運送屋",
    "synopsis": "MAL synopsis.",
    "genres": ["Adventure"],
    "episodes": 26,
    "rating": "Rx - Hentai",
    "nsfw": True,
    "aired_dates": {"from": "2021-04-03T00:00:00Z", "string": "Apr 3, 2021"},
    "broadcast": {"day": "Fridays", "time": "16:30", "timezone": "UTC"},
    "statistics": {"mal": {"score": 7.81, "members": 100}},
    "images": {"covers": ["https://cdn.myanimelist.net/images/anime/9/90001l.jpg"]},
    "synonyms": ["hoshiakari", "Star Courier"],
    "characters": [
        {
            "name": "Aoi Kisaragi",
            "role": "Main",
            "images": ["https://mal/aoi.jpg"],
            "character_ids": {"mal": 1},
        }
    ],
    "episode_details": [
        {"episode_number": 1, "title": "The Humming Crate", "aired": "2021-04-02T15:00:00Z", "filler": False},
        {"episode_number": 2, "title": "Crosswinds", "aired": "2021-04-09T15:00:00Z"},
    ],
    "related_anime": [
        {"title": "Chouchin Ressha", "relation_type": "SIDE_STORY", "url": "https://mal/90003"}
    ],
    "staff_data": {"studios": [{"name": "Studio Kumo", "type": "animation_studio", "url": "https://mal/s"}]},
    "external_links": {"official site": "https://mal.example/"},
}
ANILIST: dict[str, Any] = {
    "title_english": "Starlight Courier",
    "title_japanese": "ほしあかり",
    "synopsis": "AniList synopsis.",
    "genres": ["Fantasy"],
    "nsfw": False,
    "tags": ["aviation", "ADVENTURE"],
    "themes": [{"name": "Aviation", "description": "Features aircraft."}],
    "statistics": {"anilist": {"score": 7.8}},
    "images": {
        "covers": ["https://anilist/cover.jpg", "https://cdn.myanimelist.net/images/anime/9/90001l.jpg"],
        "banners": ["https://anilist/banner.jpg"],
    },
    "characters": [
        {
            "name": "Kisaragi Aoi",
            "role": "Main",
            "name_native": "如月 葵",
            "images": ["https://anilist/aoi.png"],
            "character_ids": {"anilist": 2},
        },
        {"name": "Ren Tachibana", "role": "Supporting"},
    ],
    "episode_details": [
        {"episode_number": 1, "aired": "2021-04-02T16:30:00Z"},
        {"episode_number": 3, "aired": "2021-04-16T16:30:00Z"},
    ],
    "staff_data": {"production_staff": {"directors": [{"name": "Daichi Horikawa", "role": "Director"}]}},
    "external_links": {"official site": "https://anilist.example/", "twitter": "https://x.example/"},
}
OK = [ProviderOutcome("jikan", "ok"), ProviderOutcome("anilist", "ok")]


def test_the_offline_record_wins_where_it_has_a_value() -> None:
    entry = assemble(ANIME_ID, record(), {"jikan": JIKAN, "anilist": ANILIST}, OK, now=NOW).entry

    assert (entry.id, entry.title, entry.type, entry.status, entry.episodes) == (
        ANIME_ID,
        "Hoshiakari Unsouya",
        "TV",
        "FINISHED",
        3,
    )
    assert entry.sources == record().sources
    assert (entry.season, entry.year, entry.duration) == ("SPRING", 2021, 1440)
    assert entry.score is not None and entry.score.median == 7.7


def test_providers_fill_what_the_offline_record_lacks() -> None:
    bare = record(
        type="UNKNOWN", status="UNKNOWN", episodes=0, animeSeason={"season": "UNDEFINED"}, duration=None
    )
    entry = assemble(ANIME_ID, bare, {"jikan": JIKAN, "anilist": ANILIST}, OK, now=NOW).entry
    assert (entry.type, entry.status, entry.episodes) == ("SPECIAL", "ONGOING", 26)
    assert entry.season is None and entry.duration is None, "no provider said"


def test_each_field_comes_from_its_most_trusted_provider() -> None:
    entry = assemble(ANIME_ID, record(), {"jikan": JIKAN, "anilist": ANILIST}, OK, now=NOW).entry

    assert entry.title_english == "Starlight Courier", "AniList first for English titles"
    assert entry.title_japanese == "星明かり運送屋", "Jikan first for Japanese titles"
    assert entry.synopsis == "MAL synopsis."
    assert entry.genres == ["Adventure"], "genres are not mixed across providers"
    assert entry.rating == "Rx - Hentai" and entry.nsfw is True, "nsfw if any provider says so"
    assert entry.month == "April"
    assert entry.broadcast is not None and entry.broadcast.day == "Fridays"
    assert entry.synonyms == ["Hoshiakari", "Star Courier"], "union, case-insensitive"
    assert entry.tags == ["adventure", "Flying", "aviation"]
    assert entry.themes[0].name == "Aviation"
    assert set(entry.statistics) == {"mal", "anilist"}
    assert entry.external_links == {"official site": "https://mal.example/", "twitter": "https://x.example/"}
    assert entry.images.covers == [
        "https://cdn.myanimelist.net/images/anime/9/90001l.jpg",
        "https://anilist/cover.jpg",
    ], "union in provider order; the offline picture once"
    assert entry.images.banners == ["https://anilist/banner.jpg"]
    assert [s.name for s in entry.staff_data.studios] == ["Studio Kumo"]
    assert entry.staff_data.studios[0].url == "https://mal/s", "Jikan's company over the offline name"
    assert list(entry.staff_data.production_staff) == ["directors"]
    assert [r.url for r in entry.related_anime] == ["https://mal/90003"]


def test_characters_merge_by_name_whatever_the_order() -> None:
    entry = assemble(ANIME_ID, record(), {"jikan": JIKAN, "anilist": ANILIST}, OK, now=NOW).entry

    assert [c.name for c in entry.characters] == ["Aoi Kisaragi", "Ren Tachibana"]
    aoi = entry.characters[0]
    assert aoi.name_native == "如月 葵"
    assert aoi.images == ["https://mal/aoi.jpg", "https://anilist/aoi.png"]
    assert aoi.character_ids == {"mal": 1, "anilist": 2}


def test_episodes_merge_by_number_with_anilist_airing_times_first() -> None:
    entry = assemble(ANIME_ID, record(), {"jikan": JIKAN, "anilist": ANILIST}, OK, now=NOW).entry

    by_number = {e.episode_number: e for e in entry.episode_details}
    assert sorted(by_number) == [1, 2, 3]
    assert by_number[1].title == "The Humming Crate"
    assert by_number[1].aired == datetime(2021, 4, 2, 16, 30, tzinfo=UTC), "AniList's exact time"
    assert by_number[2].aired == datetime(2021, 4, 9, 15, 0, tzinfo=UTC), "Jikan's when AniList has none"
    assert by_number[3].title is None


def test_the_offline_relations_stand_in_when_no_provider_has_any() -> None:
    entry = assemble(
        ANIME_ID, record(), {"anilist": ANILIST}, [ProviderOutcome("anilist", "ok")], now=NOW
    ).entry
    assert [(r.title, r.relation_type) for r in entry.related_anime] == [
        ("https://myanimelist.net/anime/90003", "UNKNOWN")
    ]
    assert [s.name for s in entry.staff_data.studios] == ["studio kumo"], "the offline studios"


def test_enrichment_metadata_records_every_provider() -> None:
    outcomes = [
        ProviderOutcome("jikan", "ok", notes=("episodes: timed out after 2s",)),
        ProviderOutcome("anilist", "failed", "server error (HTTP 500)"),
        ProviderOutcome("kitsu", "not_found", "not found (HTTP 404)"),
        ProviderOutcome("anidb", "skipped", "no anidb.net page in sources"),
    ]
    assembled = assemble(ANIME_ID, record(), {"jikan": JIKAN}, outcomes, now=NOW)

    meta = assembled.entry.to_json_dict()["enrichment_metadata"]
    assert not assembled.offline_only
    assert meta == {
        "source": "multi-source",
        "enriched_at": "2024-03-01T12:00:00Z",
        "success": True,
        "offline_only": False,
        "providers": {
            "jikan": {"status": "ok", "notes": ["episodes: timed out after 2s"]},
            "anilist": {"status": "failed", "error": "server error (HTTP 500)"},
            "kitsu": {"status": "not_found", "reason": "not found (HTTP 404)"},
            "anidb": {"status": "skipped", "reason": "no anidb.net page in sources"},
        },
        "error_message": "anilist: server error (HTTP 500)",
    }


def test_without_any_provider_the_entry_is_the_offline_record_marked_as_such() -> None:
    outcomes = [
        ProviderOutcome("jikan", "failed", "timed out after 2s"),
        ProviderOutcome("anilist", "failed", "x"),
    ]
    assembled = assemble(ANIME_ID, record(), {}, outcomes, now=NOW)

    entry = assembled.entry
    assert assembled.offline_only
    assert entry.enrichment_metadata is not None
    assert (entry.enrichment_metadata.source, entry.enrichment_metadata.success) == ("offline-record", False)
    assert entry.enrichment_metadata.error_message == (
        "no provider answered; the entry is the offline record alone (jikan: timed out after 2s; anilist: x)"
    )
    assert (entry.title, entry.episodes, entry.tags, entry.synonyms) == (
        "Hoshiakari Unsouya",
        3,
        ["adventure", "Flying"],
        ["Hoshiakari"],
    )
    assert entry.images.covers == ["https://cdn.myanimelist.net/images/anime/9/90001l.jpg"]
    assert entry.characters == [] and entry.synopsis is None


def test_the_offline_placeholder_picture_is_not_an_image() -> None:
    placeholder = (
        "https://raw.githubusercontent.com/manami-project/anime-offline-database/master/pics/no_pic.png"
    )
    entry = assemble(ANIME_ID, record(picture=placeholder), {}, [], now=NOW).entry
    assert entry.images.covers == []


def test_invalid_provider_values_are_dropped_and_noted_not_the_entry() -> None:
    broken = {
        **JIKAN,
        "statistics": {"mal": {"score": 78.1}},  # not 0-10
        "characters": [{"name": "No Role"}, {"name": "Aoi Kisaragi", "role": "Main"}],
        "aired_dates": {"from": "sometime"},
    }
    assembled = assemble(ANIME_ID, record(), {"jikan": broken}, [ProviderOutcome("jikan", "ok")], now=NOW)

    entry = assembled.entry
    assert [c.name for c in entry.characters] == ["Aoi Kisaragi"]
    assert "mal" not in entry.statistics
    assert entry.aired_dates is None
    assert [d.split(":")[0] for d in assembled.dropped] == ["characters[0]", "statistics.mal", "aired_dates"]
    assert entry.to_json_dict()["enrichment_metadata"]["dropped"] == assembled.dropped
