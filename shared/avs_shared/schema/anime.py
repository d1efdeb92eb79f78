"""The enriched anime entry and the enriched database file root."""

from __future__ import annotations

from datetime import date

from pydantic import ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

from avs_shared.schema.characters import Character
from avs_shared.schema.common import (
    AnimeStatus,
    AnimeType,
    DatasetLicense,
    SchemaModel,
    Season,
    SystemStatus,
    UtcDatetime,
)
from avs_shared.schema.details import (
    EnrichmentMetadata,
    RelatedAnime,
    StreamingInfo,
    Theme,
    ThemeSong,
    Trailer,
)
from avs_shared.schema.episodes import EpisodeDetail
from avs_shared.schema.images import Images
from avs_shared.schema.schedule import (
    AiredDates,
    Broadcast,
    BroadcastSchedule,
    DelayInformation,
    PremiereDates,
)
from avs_shared.schema.staff import StaffData
from avs_shared.schema.statistics import ProviderStatistics, Score


class AnimeEntry(SchemaModel):
    """One enriched anime: the document stored per ``anime_id`` and indexed as vectors.

    Attributes
    ----------
    id
        Our ``anime_id`` (a UUID string).
    title, type, status, sources
        Required. ``sources`` (provider URLs) identify the anime in the offline database.
    episodes
        Defaults to 0.
    source_material
        Open set of MAL strings (``ORIGINAL``, ``LIGHT NOVEL``, ...): unknown values pass.
    statistics
        Provider name (``mal``, ``anilist``, ``kitsu``, ...) to its statistics.
    system_status, orphaned_at
        Our lifecycle: ``ORPHANED`` once the anime left the source database.
    version, updated_at
        Optimistic concurrency: writers compare ``version`` and increment it.

    Notes
    -----
    Every other field is optional. Unknown fields (``episode_overrides``, ...) are
    kept; round-trip through :meth:`from_json_dict` and :meth:`to_json_dict`.
    """

    # Identity and required fields.
    id: str = Field(min_length=1)
    title: str
    type: AnimeType
    status: AnimeStatus
    sources: list[str]
    episodes: int = Field(default=0, ge=0)

    # Scalars.
    background: str | None = None
    month: str | None = None
    nsfw: bool | None = None
    rating: str | None = None
    season: Season | None = None
    year: int | None = None
    duration: int | None = Field(default=None, ge=0)
    source_material: str | None = None
    synopsis: str | None = None
    title_english: str | None = None
    title_japanese: str | None = None

    # Lists of strings.
    genres: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    synonyms: list[str] = Field(default_factory=list)
    demographics: list[str] = Field(default_factory=list)
    content_warnings: list[str] = Field(default_factory=list)
    streaming_licenses: list[str] = Field(default_factory=list)

    # Lists of objects.
    characters: list[Character] = Field(default_factory=list)
    episode_details: list[EpisodeDetail] = Field(default_factory=list)
    related_anime: list[RelatedAnime] = Field(default_factory=list)
    relations: list[RelatedAnime] = Field(default_factory=list)
    themes: list[Theme] = Field(default_factory=list)
    opening_themes: list[ThemeSong] = Field(default_factory=list)
    ending_themes: list[ThemeSong] = Field(default_factory=list)
    trailers: list[Trailer] = Field(default_factory=list)
    streaming_info: list[StreamingInfo] = Field(default_factory=list)

    # Objects.
    images: Images = Field(default_factory=Images)
    score: Score | None = None
    statistics: dict[str, ProviderStatistics] = Field(default_factory=dict)
    staff_data: StaffData = Field(default_factory=StaffData)
    aired_dates: AiredDates | None = None
    broadcast: Broadcast | None = None
    broadcast_schedule: BroadcastSchedule | None = None
    premiere_dates: PremiereDates | None = None
    delay_information: DelayInformation | None = None
    enrichment_metadata: EnrichmentMetadata | None = None
    external_links: dict[str, str] = Field(default_factory=dict)
    popularity_trends: dict[str, JsonValue] | None = None

    # System fields (ours, not from any provider).
    system_status: SystemStatus = SystemStatus.ACTIVE
    orphaned_at: UtcDatetime | None = None
    version: int = Field(default=0, ge=0)
    updated_at: UtcDatetime | None = None


class EnrichmentInfo(SchemaModel):
    """``enrichmentInfo`` of the enriched database file."""

    model_config = ConfigDict(alias_generator=to_camel)

    total_anime: int | None = None
    enrichment_version: str | None = None
    sources: list[str] = Field(default_factory=list)
    description: str | None = None
    last_enrichment: date | None = None


class EnrichedDatabase(SchemaModel):
    """Root of an enriched database file: ``{license, repository, lastUpdate, enrichmentInfo, data}``."""

    model_config = ConfigDict(alias_generator=to_camel)

    license: DatasetLicense | None = None
    repository: str | None = None
    last_update: date | None = None
    enrichment_info: EnrichmentInfo | None = None
    data: list[AnimeEntry]
