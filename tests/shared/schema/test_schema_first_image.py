"""first_image: the image a result list shows (first URL among covers, then posters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from avs_shared.schema import AnimeEntry, ImagePlaceholder, Images, first_image

Load = Callable[[str], dict[str, Any]]
FAILED = ImagePlaceholder(image_url="https://img.example.org/gone.jpg", error_message="HTTP 404 Not Found")


def test_the_first_cover_of_an_entry(fixture_json: Load) -> None:
    entry = AnimeEntry.from_json_dict(fixture_json("entry_full.json"))

    assert first_image(entry.images) == "https://img.example.org/anime/hsr-cover.jpg"


def test_placeholders_are_skipped_and_posters_follow_covers() -> None:
    images = Images(
        covers=[FAILED, "https://cdn.test/images/a.jpg"], posters=["https://cdn.test/images/p.jpg"]
    )
    assert first_image(images) == "https://cdn.test/images/a.jpg"

    only_failed_covers = Images(covers=[FAILED], posters=[FAILED, "https://cdn.test/images/p.jpg"])
    assert first_image(only_failed_covers) == "https://cdn.test/images/p.jpg"


def test_banners_and_placeholders_alone_give_none(fixture_json: Load) -> None:
    assert first_image(Images(covers=[FAILED], banners=["https://cdn.test/images/b.jpg"])) is None
    assert first_image(Images()) is None
    assert first_image(AnimeEntry.from_json_dict(fixture_json("entry_music_minimal.json")).images) is None


def test_a_stored_projection_gives_the_same_image_as_the_model() -> None:
    """The ingestor reads ``images`` back as JSON; parsed, it gives what the indexer computes."""
    doc = {"covers": [FAILED.to_json_dict(), "https://cdn.test/images/c.jpg"], "posters": []}

    assert first_image(Images.from_json_dict(doc)) == "https://cdn.test/images/c.jpg"
