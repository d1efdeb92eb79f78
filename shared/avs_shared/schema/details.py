"""Smaller nested parts of an entry: relations, themes, trailers, streaming, metadata."""

from __future__ import annotations

from pydantic import Field

from avs_shared.schema.common import SchemaModel, UtcDatetime


class RelatedAnime(SchemaModel):
    """A related work (``related_anime[]`` and ``relations[]``)."""

    title: str
    relation_type: str
    url: str | None = None


class Theme(SchemaModel):
    """A thematic tag with an optional description."""

    name: str
    description: str | None = None


class ThemeSong(SchemaModel):
    """An opening or ending theme."""

    title: str
    artist: str | None = None
    episodes: str | None = None


class Trailer(SchemaModel):
    """A trailer video."""

    url: str | None = None
    title: str | None = None
    thumbnail_url: str | None = None


class StreamingInfo(SchemaModel):
    """Where the anime can be streamed."""

    platform: str
    url: str
    region: str | None = None
    free: bool | None = None
    premium_required: bool | None = None
    dub_available: bool | None = None
    subtitle_languages: list[str] = Field(default_factory=list)


class EnrichmentMetadata(SchemaModel):
    """How and when the entry was enriched."""

    source: str
    enriched_at: UtcDatetime
    success: bool
    error_message: str | None = None
