"""image_urls lists every image URL of an entry and skips placeholders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from avs_shared.schema import AnimeEntry, ImagePlaceholder, ImageRef, image_urls

Load = Callable[[str], dict[str, Any]]


def test_lists_anime_and_character_images_with_context(fixture_json: Load) -> None:
    entry = AnimeEntry.from_json_dict(fixture_json("entry_full.json"))

    assert image_urls(entry) == [
        ImageRef("cover", "https://img.example.org/anime/hsr-cover.jpg", "Hoshizora Relay"),
        ImageRef("poster", "https://img.example.org/anime/hsr-poster.jpg", "Hoshizora Relay"),
        ImageRef("banner", "https://img.example.org/anime/hsr-banner.jpg", "Hoshizora Relay"),
        ImageRef("character", "https://img.example.org/characters/aoi-large.png", "Aoi Hoshino"),
    ]


def test_refs_are_plain_tuples(fixture_json: Load) -> None:
    entry = AnimeEntry.from_json_dict(fixture_json("entry_full.json"))

    kind, url, context = image_urls(entry)[-1]

    assert (kind, url, context) == (
        "character",
        "https://img.example.org/characters/aoi-large.png",
        "Aoi Hoshino",
    )


def test_only_placeholders_means_no_urls(fixture_json: Load) -> None:
    entry = AnimeEntry.from_json_dict(fixture_json("entry_pv_quirks.json"))

    assert isinstance(entry.characters[0].images[0], ImagePlaceholder)
    assert image_urls(entry) == []


def test_an_entry_without_images_has_none(fixture_json: Load) -> None:
    assert image_urls(AnimeEntry.from_json_dict(fixture_json("entry_music_minimal.json"))) == []
