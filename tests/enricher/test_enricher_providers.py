"""Contract of the fakes and the real clients: each client reads its fake's answers (the
providers' real shapes) into the partial entry the assembly expects."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from avs_enricher.enrich import subject_of
from avs_enricher.providers import (
    ProviderError,
    ProviderHttp,
    ProviderNotFound,
    build_providers,
    provider_limits,
)
from avs_enricher.providers.base import AnimeProvider, Subject
from avs_enricher.providers.kitsu import KitsuClient
from avs_enricher.settings import EnricherSettings
from avs_enricher.testing.catalogue import HARBOR, LANTERN, STARLIGHT, FakeAnime
from avs_enricher.testing.fake_providers import FakeProviders
from avs_shared.schema import Character, EpisodeDetail, ProviderStatistics

MakeSettings = Callable[..., EnricherSettings]
OpenHttp = Callable[[EnricherSettings], ProviderHttp]


def client(name: str, settings: EnricherSettings, http: ProviderHttp) -> AnimeProvider:
    return next(p for p in build_providers(settings, http) if p.name == name)


def subject(anime: FakeAnime) -> Subject:
    return subject_of(anime.sources(), anime.title)


async def test_jikan(enricher_settings: EnricherSettings, http: ProviderHttp, fakes: FakeProviders) -> None:
    fakes.jikan_page_size = 2  # three episodes: two pages
    data = (await client("jikan", enricher_settings, http).anime(subject(STARLIGHT))).fields

    assert data["synopsis"] == STARLIGHT.synopsis_mal, "MAL's rewrite credit is cut"
    assert (data["rating"], data["source_material"], data["season"], data["year"]) == (
        "PG-13 - Teens 13 or older",
        "LIGHT NOVEL",
        "SPRING",
        2021,
    )
    assert data["genres"] == ["Adventure", "Fantasy"] and data["demographics"] == ["Seinen"]
    assert data["broadcast"] == {"day": "Fridays", "time": "16:30", "timezone": "UTC"}  # Saturdays 01:30 JST
    assert data["aired_dates"]["from"] == "2021-04-03T00:00:00Z"
    assert data["duration"] == 24 * 60 and data["nsfw"] is False
    assert data["statistics"]["mal"]["score"] == 7.81
    assert data["opening_themes"] == [
        {
            "title": "Skyline Parcel (スカイライン・パーセル)",
            "artist": "Hoshizora Band",
            "episodes": "eps 1-3",
        }
    ]
    assert data["ending_themes"] == [{"title": "Night Cargo", "artist": "Mio Lune"}]
    assert data["related_anime"] == [
        {
            "title": "Chouchin Ressha",
            "relation_type": "SIDE_STORY",
            "url": "https://myanimelist.net/anime/90003/Chouchin_Ressha",
        }
    ], "manga relations are left out"
    assert [c["name"] for c in data["characters"]] == [
        "Aoi Kisaragi",
        "Ren Tachibana",
    ]  # "Family, Given" flipped
    assert data["characters"][0]["voice_actors"] == [{"name": "Sayaka Morino", "language": "Japanese"}]
    episodes = data["episode_details"]
    assert [e["episode_number"] for e in episodes] == [1, 2, 3]
    assert episodes[0]["aired"] == "2021-04-02T15:00:00Z", "+09:00 midnight is the day before in UTC"
    assert episodes[1]["filler"] is True
    for item in data["characters"]:
        Character.from_json_dict(item)
    for item in episodes:
        EpisodeDetail.from_json_dict(item)


async def test_jikan_one_episode(enricher_settings: EnricherSettings, http: ProviderHttp) -> None:
    episode = await client("jikan", enricher_settings, http).episode(subject(HARBOR), 2)
    assert episode is not None
    assert episode["title"] == "The Lighthouse" and episode["duration"] == 23 * 60
    assert episode["aired"] == "2024-01-11T15:00:00Z"


async def test_anilist(enricher_settings: EnricherSettings, http: ProviderHttp) -> None:
    data = (await client("anilist", enricher_settings, http).anime(subject(HARBOR))).fields

    assert (data["title_english"], data["title_japanese"]) == ("Harbor Town Diaries", "港町日記")
    assert data["themes"] == [{"name": "Iyashikei", "description": "Soothing, healing stories."}]
    assert data["tags"] == ["iyashikei"], "spoiler tags are left out"
    assert data["statistics"]["anilist"]["score"] == 8.1
    assert data["statistics"]["anilist"]["rank"] == 512
    assert data["images"]["banners"] == [
        "https://s4.anilist.co/file/anilistcdn/media/anime/banner/190002.jpg"
    ]
    assert [(e["episode_number"], e["aired"]) for e in data["episode_details"]] == [
        (1, "2024-01-05T14:30:00Z"),  # Fridays 23:30 JST, from Unix airingAt
        (2, "2024-01-12T14:30:00Z"),
    ]
    assert data["characters"][0]["role"] == "Main" and data["characters"][0]["name_native"] == "花園 澪"
    assert data["staff_data"]["production_staff"]["directors"][0]["name"] == "Daichi Horikawa"
    ProviderStatistics.from_json_dict(data["statistics"]["anilist"])


async def test_anilist_html_descriptions_become_text(
    enricher_settings: EnricherSettings, http: ProviderHttp
) -> None:
    data = (await client("anilist", enricher_settings, http).anime(subject(STARLIGHT))).fields
    assert (
        data["synopsis"] == "Aoi runs a courier skiff between the sky islands.\n\n"
        "A humming crate changes everything. <Source: fake>"
    )
    assert data["related_anime"] == [
        {"title": "Chouchin Ressha", "relation_type": "SIDE_STORY", "url": "https://anilist.co/anime/190003"}
    ]
    assert data["streaming_info"] == [{"platform": "Sky Stream", "url": "https://stream.example/starlight"}]


async def test_anilist_one_episode(enricher_settings: EnricherSettings, http: ProviderHttp) -> None:
    anilist = client("anilist", enricher_settings, http)
    assert await anilist.episode(subject(HARBOR), 2) == {"episode_number": 2, "aired": "2024-01-12T14:30:00Z"}
    assert await anilist.episode(subject(HARBOR), 9) is None


async def test_kitsu_by_number_and_by_slug(enricher_settings: EnricherSettings, http: ProviderHttp) -> None:
    kitsu = client("kitsu", enricher_settings, http)
    by_number = (await kitsu.anime(subject(STARLIGHT))).fields
    by_slug = (await kitsu.anime(subject(HARBOR))).fields

    assert subject(HARBOR).ids.kitsu == "harbor-town-diaries"
    assert by_slug["title_english"] == "Harbor Town Diaries"
    assert by_number["statistics"]["kitsu"]["score"] == 7.64, "Kitsu's percentage as 0-10"
    assert by_number["images"] == {
        "posters": ["https://media.kitsu.app/anime/poster_images/49001/original.jpg"],
        "banners": ["https://media.kitsu.app/anime/cover_images/49001/original.jpg"],
    }
    assert by_number["tags"] == ["adventure", "sky"]
    assert [e["episode_number"] for e in by_number["episode_details"]] == [1, 2, 3]
    assert by_number["episode_details"][0]["aired"] == "2021-04-03T00:00:00Z", "an airdate is a date"
    assert await kitsu.episode(subject(HARBOR), 2) == {
        "episode_number": 2,
        "title": "The Lighthouse",
        "title_japanese": "灯台",
        "title_romaji": "Toudai",
        "aired": "2024-01-12T00:00:00Z",
        "duration": 1380,
        "season_number": 1,
        "thumbnails": ["https://media.kitsu.app/episodes/thumbnails/49002002/original.jpg"],
    }


async def test_kitsu_pages_through_episodes(
    enricher_settings: EnricherSettings, http: ProviderHttp, fakes: FakeProviders
) -> None:
    kitsu = KitsuClient(
        http,
        provider_limits(enricher_settings)["kitsu"],
        enricher_settings.enricher_kitsu_base_url,
        max_pages=5,
        page_size=2,
    )
    data = (await kitsu.anime(subject(STARLIGHT))).fields
    assert [e["episode_number"] for e in data["episode_details"]] == [1, 2, 3]
    assert sum("/episodes" in r.path for r in fakes.requests("kitsu")) == 2


async def test_anidb(enricher_settings: EnricherSettings, http: ProviderHttp, fakes: FakeProviders) -> None:
    data = (await client("anidb", enricher_settings, http).anime(subject(STARLIGHT))).fields

    request = fakes.requests("anidb")[0]
    assert (
        "client=avsfake" in request.query and "protover=1" in request.query and "aid=19001" in request.query
    )
    assert data["synopsis"] == "Aoi Kisaragi flies parcels across the sky.", "AniDB link markup removed"
    assert (data["title_japanese"], data["title_english"]) == ("星明かり運送屋", "Starlight Courier")
    assert [e["episode_number"] for e in data["episode_details"]] == [1, 2, 3], "specials are not episodes"
    assert data["episode_details"][0]["aired"] == "2021-04-03T00:00:00Z"
    assert data["statistics"]["anidb"] == {"score": 7.62, "scored_by": 420}
    assert data["tags"] == ["adventure"], "weightless tags are left out"
    assert data["staff_data"]["studios"] == [{"name": "Studio Kumo", "type": "animation_studio"}]
    assert data["characters"][0]["character_ids"] == {"anidb": 900001}


async def test_anidb_ban_pauses_every_caller(
    enricher_settings: EnricherSettings, http: ProviderHttp, fakes: FakeProviders
) -> None:
    anidb = client("anidb", enricher_settings, http)
    fakes.fail("anidb", "banned", times=1)
    with pytest.raises(ProviderError, match="banned by AniDB"):
        await anidb.anime(subject(STARLIGHT))
    with pytest.raises(ProviderError, match="blocked after a Retry-After"):
        await anidb.anime(subject(HARBOR))
    assert len(fakes.requests("anidb")) == 1, "no request while banned"


async def test_anidb_needs_a_registered_client(make_settings: MakeSettings, open_http: OpenHttp) -> None:
    settings = make_settings(enricher_anidb_client="")
    anidb = client("anidb", settings, open_http(settings))
    assert anidb.skip_reason(subject(STARLIGHT)) == (
        "not configured: set AVS_ENRICHER_ANIDB_CLIENT to a registered AniDB client name"
    )


async def test_animeschedule_matches_by_cross_reference(
    enricher_settings: EnricherSettings, http: ProviderHttp, fakes: FakeProviders
) -> None:
    data = (await client("animeschedule", enricher_settings, http).anime(subject(HARBOR))).fields

    assert [r.path for r in fakes.requests("animeschedule")] == [
        "/api/v3/anime",
        "/api/v3/anime/minatomachi-nikki",
    ]
    assert data["broadcast_schedule"] == {
        "jpn_time": "2024-01-19T14:30:00Z",
        "sub_time": "2024-01-19T15:00:00Z",
    }
    assert data["premiere_dates"] == {"original": "2024-01-05", "sub": "2024-01-05"}, (
        "dates stay dates, 0001 drops"
    )
    assert data["delay_information"] == {
        "delayed_timetable": True,
        "delayed_from": "2024-01-26",
        "delayed_until": "2024-02-02",
        "delay_reason": "Broadcast paused for a sports event",
    }
    assert data["statistics"]["animeschedule"] == {"score": 8.3, "scored_by": 121, "members": 955}


async def test_animeschedule_without_a_linked_result_is_not_found(
    enricher_settings: EnricherSettings, http: ProviderHttp
) -> None:
    schedule = client("animeschedule", enricher_settings, http)
    with pytest.raises(ProviderNotFound):
        await schedule.anime(subject(LANTERN))


@pytest.mark.parametrize("name", ["jikan", "anilist", "kitsu", "anidb"])
async def test_an_unknown_anime_is_not_found(
    name: str, enricher_settings: EnricherSettings, http: ProviderHttp
) -> None:
    unknown = subject_of(
        [
            "https://myanimelist.net/anime/1",
            "https://anilist.co/anime/1",
            "https://kitsu.app/anime/1",
            "https://anidb.net/anime/1",
        ],
        "Nobody Knows",
    )
    with pytest.raises(ProviderNotFound):
        await client(name, enricher_settings, http).anime(unknown)
