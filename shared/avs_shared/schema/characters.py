"""Characters of an anime and their voice actors."""

from __future__ import annotations

from pydantic import Field

from avs_shared.schema.common import SchemaModel
from avs_shared.schema.images import ImageItem


class CharacterVoiceActor(SchemaModel):
    """A voice actor credited on a character (``{name, language}``)."""

    name: str
    language: str | None = None


class Character(SchemaModel):
    """One character, merged from the providers.

    Attributes
    ----------
    name, role
        Required; ``role`` is provider text such as ``Main`` or ``MAIN``.
    images
        Image URLs, or placeholders of images that failed to ingest.
    character_pages
        Provider name to character page URL.
    character_ids
        Provider name to that provider's character id (a number, or a slug).
    """

    name: str
    role: str
    name_native: str | None = None
    name_kanji: str | None = None
    name_variations: list[str] = Field(default_factory=list)
    nicknames: list[str] = Field(default_factory=list)
    age: str | int | None = None
    gender: str | None = None
    description: str | None = None
    eye_color: str | None = None
    hair_color: str | None = None
    favorites: int | None = None
    character_traits: list[str] = Field(default_factory=list)
    images: list[ImageItem] = Field(default_factory=list)
    voice_actors: list[CharacterVoiceActor] = Field(default_factory=list)
    character_pages: dict[str, str] = Field(default_factory=dict)
    character_ids: dict[str, int | str] = Field(default_factory=dict)
