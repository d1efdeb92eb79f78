"""Images of an anime, failed-image placeholders, and the list of every image URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

from pydantic import Field

from avs_shared.schema.common import SchemaModel

if TYPE_CHECKING:
    from avs_shared.schema.anime import AnimeEntry


class ImagePlaceholder(SchemaModel):
    """Stands in for an image URL whose ingestion failed.

    Attributes
    ----------
    image_url
        The original URL that could not be fetched or stored.
    error_message
        Why it failed.
    """

    image_url: str
    error_message: str


ImageItem = str | ImagePlaceholder
"""One entry of an image list: a URL, or the placeholder of a failed image."""


class Images(SchemaModel):
    """Anime-level images by kind (character images live on the characters)."""

    covers: list[ImageItem] = Field(default_factory=list)
    posters: list[ImageItem] = Field(default_factory=list)
    banners: list[ImageItem] = Field(default_factory=list)


ImageKind = Literal["cover", "poster", "banner", "character"]


class ImageRef(NamedTuple):
    """One image URL of an entry.

    Attributes
    ----------
    kind
        ``cover``, ``poster``, ``banner`` or ``character``.
    url
        The image URL.
    context
        The anime title for anime-level images, the character name for character images.
    """

    kind: ImageKind
    url: str
    context: str


def first_image(images: Images) -> str | None:
    """The one image a result list shows for an anime: the first URL among its covers, then
    among its posters (placeholders of failed images skipped); None if there is none.

    The search payload's ``image`` field is this value (the indexer writes it with the
    point, the image ingestor updates it when it re-hosts the entry's images).
    """
    for item in (*images.covers, *images.posters):
        if isinstance(item, str):
            return item
    return None


def image_urls(entry: AnimeEntry) -> list[ImageRef]:
    """Every image URL of ``entry``, in document order, placeholders skipped.

    Covers, posters and banners come first, then each character's images. A URL
    used twice is listed twice; callers that fetch should deduplicate.
    """
    refs: list[ImageRef] = []
    anime_level: tuple[tuple[ImageKind, list[ImageItem]], ...] = (
        ("cover", entry.images.covers),
        ("poster", entry.images.posters),
        ("banner", entry.images.banners),
    )
    for kind, items in anime_level:
        refs.extend(ImageRef(kind, item, entry.title) for item in items if isinstance(item, str))
    for character in entry.characters:
        refs.extend(
            ImageRef("character", item, character.name) for item in character.images if isinstance(item, str)
        )
    return refs
