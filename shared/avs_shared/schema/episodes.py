"""Per-episode details."""

from __future__ import annotations

from pydantic import Field, JsonValue

from avs_shared.schema.common import SchemaModel, UtcDatetime


class EpisodeDetail(SchemaModel):
    """One episode.

    Attributes
    ----------
    episode_number
        The only required field.
    title
        Optional: real data has episodes with an empty or missing title.
    aired
        When it first aired, in UTC.
    duration
        Seconds.
    episode_pages
        Provider name to episode page URL.
    streaming
        Provider-specific streaming data, kept as JSON.
    """

    episode_number: int
    title: str | None = None
    title_japanese: str | None = None
    title_romaji: str | None = None
    aired: UtcDatetime | None = None
    duration: int | None = Field(default=None, ge=0)
    filler: bool | None = None
    recap: bool | None = None
    score: float | None = None
    season_number: int | None = None
    synopsis: str | None = None
    description: str | None = None
    thumbnails: list[str] = Field(default_factory=list)
    episode_pages: dict[str, str] = Field(default_factory=dict)
    streaming: dict[str, JsonValue] = Field(default_factory=dict)
