"""Pydantic models of anime data: the enriched entry, its parts, and the raw source.

Pure: no I/O. Every model keeps unknown keys and round-trips exactly through
``Model.from_json_dict(d).to_json_dict() == d``.
"""

from avs_shared.schema.anime import AnimeEntry, EnrichedDatabase, EnrichmentInfo
from avs_shared.schema.characters import Character, CharacterVoiceActor
from avs_shared.schema.common import (
    AnimeStatus,
    AnimeType,
    DatasetLicense,
    SchemaModel,
    Season,
    SystemStatus,
    UtcDatetime,
    format_utc_datetime,
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
from avs_shared.schema.images import (
    ImageItem,
    ImageKind,
    ImagePlaceholder,
    ImageRef,
    Images,
    first_image,
    image_urls,
)
from avs_shared.schema.offline import (
    AnimeSeason,
    DeadEntries,
    OfflineDatabase,
    OfflineDatabaseHeader,
    OfflineDuration,
    OfflineRecord,
    OfflineScore,
    ScoreRange,
)
from avs_shared.schema.schedule import (
    AiredDates,
    Broadcast,
    BroadcastSchedule,
    DelayInformation,
    PremiereDates,
)
from avs_shared.schema.staff import Company, StaffData, StaffMember, VoiceActorStaff
from avs_shared.schema.statistics import ContextualRank, ProviderStatistics, Score

__all__ = [
    "AiredDates",
    "AnimeEntry",
    "AnimeSeason",
    "AnimeStatus",
    "AnimeType",
    "Broadcast",
    "BroadcastSchedule",
    "Character",
    "CharacterVoiceActor",
    "Company",
    "ContextualRank",
    "DatasetLicense",
    "DeadEntries",
    "DelayInformation",
    "EnrichedDatabase",
    "EnrichmentInfo",
    "EnrichmentMetadata",
    "EpisodeDetail",
    "ImageItem",
    "ImageKind",
    "ImagePlaceholder",
    "ImageRef",
    "Images",
    "OfflineDatabase",
    "OfflineDatabaseHeader",
    "OfflineDuration",
    "OfflineRecord",
    "OfflineScore",
    "PremiereDates",
    "ProviderStatistics",
    "RelatedAnime",
    "SchemaModel",
    "Score",
    "ScoreRange",
    "Season",
    "StaffData",
    "StaffMember",
    "StreamingInfo",
    "SystemStatus",
    "Theme",
    "ThemeSong",
    "Trailer",
    "UtcDatetime",
    "VoiceActorStaff",
    "first_image",
    "format_utc_datetime",
    "image_urls",
]
