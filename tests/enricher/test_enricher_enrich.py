"""Enriching against the five fakes: everything answers, some fail, none answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from avs_enricher.enrich import Enricher
from avs_enricher.providers import ProviderHttp, build_providers
from avs_enricher.settings import EnricherSettings
from avs_enricher.testing.catalogue import HARBOR, STARLIGHT
from avs_enricher.testing.fake_providers import FakeProviders
from avs_shared.schema import AnimeEntry, OfflineRecord

ANIME_ID = "5d8f7f0c-4a50-5f43-8f4c-0c7d8a5c1e01"
MakeSettings = Callable[..., EnricherSettings]
OpenHttp = Callable[[EnricherSettings], ProviderHttp]


def offline(anime: object) -> OfflineRecord:
    return OfflineRecord.from_json_dict(anime.offline_record())  # type: ignore[attr-defined]


async def test_every_provider_contributes(enricher: Enricher) -> None:
    assembled = await enricher.enrich(ANIME_ID, offline(HARBOR))

    entry = assembled.entry
    meta = entry.to_json_dict()["enrichment_metadata"]
    assert {p: v["status"] for p, v in meta["providers"].items()} == dict.fromkeys(
        ("jikan", "anilist", "kitsu", "anidb", "animeschedule"), "ok"
    )
    assert not assembled.offline_only and meta["success"] is True and "error_message" not in meta
    assert entry.title == "Minatomachi Nikki" and entry.status == "ONGOING" and entry.episodes == 12
    assert entry.title_english == "Harbor Town Diaries"
    assert entry.synopsis == HARBOR.synopsis_mal
    assert entry.broadcast is not None and (entry.broadcast.day, entry.broadcast.time) == ("Fridays", "14:30")
    assert (
        entry.broadcast_schedule is not None and entry.broadcast_schedule.jpn_time == "2024-01-19T14:30:00Z"
    )
    assert entry.premiere_dates is not None and entry.premiere_dates.original == "2024-01-05"
    assert [e.aired for e in entry.episode_details] == [
        datetime(2024, 1, 5, 14, 30, tzinfo=UTC),
        datetime(2024, 1, 12, 14, 30, tzinfo=UTC),
    ]
    assert set(entry.statistics) == {"mal", "anilist", "kitsu", "anidb", "animeschedule"}
    assert [c.name for c in entry.characters] == ["Mio Hanazono"]
    assert set(entry.characters[0].character_ids) == {"mal", "anilist", "anidb"}
    assert entry.images.posters and entry.images.banners and len(entry.images.covers) == 4
    assert AnimeEntry.from_json(entry.to_json()) == entry


async def test_a_failing_provider_does_not_fail_the_entry(
    fakes: FakeProviders, make_settings: MakeSettings, open_http: OpenHttp
) -> None:
    settings = make_settings(enricher_timeout_seconds=0.3, enricher_max_attempts=2)
    enricher = Enricher(build_providers(settings, open_http(settings)))
    fakes.fail("anilist", "error500")
    fakes.fail("kitsu", "timeout", delay_s=3)
    fakes.fail("animeschedule", "ratelimit", times=1, retry_after_s=0.5)  # honoured, then fine

    assembled = await enricher.enrich(ANIME_ID, offline(STARLIGHT))

    meta = assembled.entry.to_json_dict()["enrichment_metadata"]
    assert meta["providers"]["anilist"] == {"status": "failed", "error": "server error (HTTP 500)"}
    assert meta["providers"]["kitsu"] == {"status": "failed", "error": "timed out after 0.3s"}
    assert meta["providers"]["animeschedule"] == {"status": "ok"}
    assert meta["error_message"] == "anilist: server error (HTTP 500); kitsu: timed out after 0.3s"
    assert meta["success"] is True and not assembled.offline_only
    entry = assembled.entry
    assert entry.title_english == "Starlight Courier", "from Jikan while AniList is down"
    assert entry.images.banners == [], "only AniList and Kitsu have banners"
    assert entry.broadcast_schedule is not None


async def test_when_every_provider_fails_the_entry_is_the_offline_record(
    fakes: FakeProviders, enricher: Enricher
) -> None:
    fakes.fail_all("error500")

    assembled = await enricher.enrich(ANIME_ID, offline(STARLIGHT))

    entry = assembled.entry
    assert assembled.offline_only
    meta = entry.to_json_dict()["enrichment_metadata"]
    assert meta["source"] == "offline-record" and meta["offline_only"] is True and meta["success"] is False
    assert meta["error_message"].startswith(
        "no provider answered; the entry is the offline record alone (jikan:"
    )
    assert entry.title == STARLIGHT.title and entry.sources == STARLIGHT.sources()
    assert entry.images.covers == [STARLIGHT.picture]
    assert entry.synopsis is None and entry.characters == [] and entry.statistics == {}


async def test_a_partial_provider_answer_is_kept_and_noted(fakes: FakeProviders, enricher: Enricher) -> None:
    """Jikan's main answer arrives but its episode list fails: the rest of Jikan is used."""
    fakes.fail("jikan", "error500", only="/episodes")

    assembled = await enricher.enrich(ANIME_ID, offline(HARBOR))

    meta = assembled.entry.to_json_dict()["enrichment_metadata"]
    assert meta["providers"]["jikan"] == {"status": "ok", "notes": ["episodes: server error (HTTP 500)"]}
    assert assembled.entry.synopsis == HARBOR.synopsis_mal
    first = assembled.entry.episode_details[0]
    assert first.title == "Arrival" and first.filler is None, "the title from Kitsu, no MAL-only filler flag"
