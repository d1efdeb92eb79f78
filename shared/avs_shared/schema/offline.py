"""The raw anime-offline-database (manami-project): records and file roots.

Field names follow the source's camelCase in JSON (``animeSeason``) and are snake_case
in Python (``anime_season``). Unknown keys are kept, like everywhere in the schema.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from avs_shared.schema.common import AnimeStatus, AnimeType, DatasetLicense, SchemaModel, Season


class _CamelModel(SchemaModel):
    model_config = ConfigDict(alias_generator=to_camel)


class AnimeSeason(_CamelModel):
    """``animeSeason``: season and, when known, year of first distribution."""

    season: Season
    year: int | None = Field(default=None, ge=1907)


class OfflineDuration(_CamelModel):
    """Duration per episode; the unit is always ``SECONDS``."""

    value: int = Field(ge=1)
    unit: Literal["SECONDS"] = "SECONDS"


class OfflineScore(_CamelModel):
    """Score aggregated by the offline database over its providers."""

    arithmetic_geometric_mean: float
    arithmetic_mean: float
    median: float


class OfflineRecord(_CamelModel):
    """One anime of the offline database; ``sources`` (provider URLs) are its identity.

    Optional values (``duration``, ``score``, ``animeSeason.year``) are absent, not null,
    in the source.
    """

    sources: list[str]
    title: str
    type: AnimeType
    episodes: int = Field(ge=0)
    status: AnimeStatus
    anime_season: AnimeSeason
    picture: str
    thumbnail: str
    duration: OfflineDuration | None = None
    score: OfflineScore | None = None
    synonyms: list[str]
    studios: list[str]
    producers: list[str]
    related_anime: list[str]
    tags: list[str]


class ScoreRange(_CamelModel):
    """Bounds of the scores in the file."""

    min_inclusive: float
    max_inclusive: float


class OfflineDatabaseHeader(_CamelModel):
    """Root of the offline database without ``data``: also line 1 of the JSONL file."""

    schema_: str | None = Field(default=None, alias="$schema")
    license: DatasetLicense
    repository: str
    score_range: ScoreRange
    last_update: date


class OfflineDatabase(OfflineDatabaseHeader):
    """The whole minified JSON file (about 40,000 records: prefer the JSONL stream)."""

    data: list[OfflineRecord]


class DeadEntries(_CamelModel):
    """A provider's dead-entries file: ids that no longer resolve."""

    schema_: str | None = Field(default=None, alias="$schema")
    license: DatasetLicense
    repository: str
    last_update: date
    dead_entries: list[str]
