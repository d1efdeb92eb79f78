"""Aggregated score and per-provider statistics."""

from __future__ import annotations

from pydantic import Field

from avs_shared.schema.common import SchemaModel


class Score(SchemaModel):
    """Score aggregated over the providers (0-10)."""

    arithmetic_geometric_mean: float
    arithmetic_mean: float
    median: float


class ContextualRank(SchemaModel):
    """A rank within a context, e.g. AniList's "#18 most popular OVA of 2009"."""

    rank: int
    type: str
    format: str | None = None
    year: int | None = None
    season: str | None = None
    all_time: bool | None = None


class ProviderStatistics(SchemaModel):
    """One provider's statistics; ``score`` is normalized to 0-10."""

    score: float | None = Field(default=None, ge=0, le=10)
    scored_by: int | None = None
    rank: int | None = None
    popularity_rank: int | None = None
    members: int | None = None
    favorites: int | None = None
    contextual_ranks: list[ContextualRank] = Field(default_factory=list)
