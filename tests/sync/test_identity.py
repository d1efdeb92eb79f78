"""Canonical source URLs and the deterministic id of a new anime."""

from __future__ import annotations

import uuid

import pytest

from avs_shared.identity import (
    anime_id_for_sources,
    canonical_source,
    canonical_sources,
    primary_source,
    provider_of,
)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://myanimelist.net/anime/1", "https://myanimelist.net/anime/1"),
        ("http://www.MyAnimeList.net/anime/1/", "https://myanimelist.net/anime/1"),
        ("https://kitsu.io/anime/cowboy-bebop", "https://kitsu.app/anime/cowboy-bebop"),
        ("  https://anilist.co/anime/1#top ", "https://anilist.co/anime/1"),
        (
            "https://www.animenewsnetwork.com/encyclopedia/anime.php?id=1",
            "https://animenewsnetwork.com/encyclopedia/anime.php?id=1",
        ),
        ("https://notify.moe/anime/Tk3ccKimg", "https://notify.moe/anime/Tk3ccKimg"),
    ],
)
def test_canonical_forms(url: str, canonical: str) -> None:
    assert canonical_source(url) == canonical


def test_a_url_without_a_host_is_an_error() -> None:
    with pytest.raises(ValueError, match="not an absolute URL"):
        canonical_source("https:///anime/1")


def test_the_id_is_a_uuid5_of_the_primary_source_and_does_not_depend_on_order() -> None:
    sources = ["https://anidb.net/anime/23", "https://kitsu.io/anime/1", "https://myanimelist.net/anime/1"]
    assert primary_source(sources) == "https://myanimelist.net/anime/1"
    anime_id = anime_id_for_sources(sources)
    assert uuid.UUID(anime_id).version == 5
    assert anime_id == anime_id_for_sources(list(reversed(sources)))
    assert anime_id == anime_id_for_sources(["http://www.myanimelist.net/anime/1/"])
    assert anime_id != anime_id_for_sources(["https://myanimelist.net/anime/2"])


def test_providers_rank_before_the_alphabet() -> None:
    ordered = canonical_sources(
        ["https://zz.example/anime/1", "https://anilist.co/anime/9", "https://anidb.net/anime/3"]
    )
    assert ordered == [
        "https://anilist.co/anime/9",
        "https://anidb.net/anime/3",
        "https://zz.example/anime/1",
    ]
    assert provider_of("https://kitsu.io/anime/1") == "kitsu.app"


def test_no_sources_no_identity() -> None:
    with pytest.raises(ValueError):
        anime_id_for_sources([])
