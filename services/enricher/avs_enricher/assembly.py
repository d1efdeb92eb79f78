"""One :class:`~avs_shared.schema.AnimeEntry` from the offline record and the providers' partials.

Precedence rules
----------------
The offline record is the anime's identity and what the weekly sync compares against, so
its fields win where it has a value; providers fill what it lacks, each where it is
strongest (``PROVIDER_ORDER`` when nothing else is said):

=========================================  ==================================================
field                                      source, most trusted first
=========================================  ==================================================
id, title, sources                         the offline record (``id`` is ours)
type, status, episodes, season, year,      the offline record; when it says UNKNOWN /
duration, score                            0 / UNDEFINED / nothing: ``FALLBACK_OF``
synonyms, tags                             union: offline record, then providers
title_english                              AniList, Jikan, Kitsu, AniDB, AnimeSchedule
title_japanese                             Jikan, AniList, AniDB, Kitsu, AnimeSchedule
synopsis                                   Jikan, AniList, Kitsu, AniDB
background, rating, demographics,          Jikan (MyAnimeList) only
broadcast, theme songs, licences
genres / themes                            Jikan, AniList / AniList (tags with descriptions), Jikan
aired_dates, month                         Jikan, AniList, Kitsu, AniDB
broadcast_schedule, premiere_dates,        AnimeSchedule only
delay_information
trailers, streaming_info                   Jikan, AniList, Kitsu
nsfw                                       true if any provider says so
images                                     per kind, union in provider order, then the
                                           offline ``picture`` (placeholders skipped)
characters                                 merged by name (order-free): Jikan, AniList, AniDB
episode_details                            merged by number: Jikan, Kitsu, AniDB, AniList;
                                           ``aired`` AniList (exact), Jikan, Kitsu, AniDB
related_anime                              union by URL: Jikan, AniList, AniDB; else the
                                           offline ``relatedAnime`` URLs
statistics, external_links                 each provider its own key (links: first wins)
staff_data                                 companies Jikan, AniList, AniDB, then the offline
                                           studios/producers; staff AniList, AniDB
=========================================  ==================================================

``enrichment_metadata`` records which providers answered, which failed and why, and
which were skipped; when none answered the entry is the offline record alone,
``source: offline-record`` and ``offline_only: true``. A provider value that does not
validate is dropped (and noted), never the entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from avs_enricher.merging import (
    JsonDict,
    first_of,
    is_empty,
    merge_characters,
    merge_episodes,
    union_by,
    union_strings,
)
from avs_enricher.times import month_name
from avs_shared.schema import (
    AnimeEntry,
    Character,
    EpisodeDetail,
    OfflineRecord,
    ProviderStatistics,
    RelatedAnime,
    SchemaModel,
    StreamingInfo,
    Theme,
    ThemeSong,
    Trailer,
)
from avs_shared.timezones import format_utc

PROVIDER_ORDER = ("jikan", "anilist", "kitsu", "anidb", "animeschedule")
FIRST_OF: dict[str, tuple[str, ...]] = {
    "title_english": ("anilist", "jikan", "kitsu", "anidb", "animeschedule"),
    "title_japanese": ("jikan", "anilist", "anidb", "kitsu", "animeschedule"),
    "synopsis": ("jikan", "anilist", "kitsu", "anidb"),
    "background": ("jikan",),
    "rating": ("jikan",),
    "source_material": ("jikan", "anilist"),
    "genres": ("jikan", "anilist"),
    "demographics": ("jikan",),
    "themes": ("anilist", "jikan"),
    "aired_dates": ("jikan", "anilist", "kitsu", "anidb"),
    "broadcast": ("jikan",),
    "broadcast_schedule": ("animeschedule",),
    "premiere_dates": ("animeschedule",),
    "delay_information": ("animeschedule",),
    "trailers": ("jikan", "anilist", "kitsu"),
    "opening_themes": ("jikan",),
    "ending_themes": ("jikan",),
    "streaming_info": ("jikan", "anilist"),
    "streaming_licenses": ("jikan",),
}
FALLBACK_OF: dict[str, tuple[str, ...]] = {
    "type": ("jikan", "anilist", "kitsu", "anidb"),
    "status": ("jikan", "anilist", "kitsu"),
    "episodes": ("jikan", "anilist", "kitsu", "anidb", "animeschedule"),
    "season": ("anilist", "jikan"),
    "year": ("anilist", "jikan"),
    "duration": ("jikan", "anilist", "kitsu", "animeschedule"),
}
CHARACTER_ORDER = ("jikan", "anilist", "anidb")
EPISODE_ORDER = ("jikan", "kitsu", "anidb", "anilist")
AIRED_ORDER = ("anilist", "jikan", "kitsu", "anidb")
RELATED_ORDER = ("jikan", "anilist", "anidb")
COMPANY_ORDER = {
    "studios": ("jikan", "anilist", "anidb"),
    "producers": ("jikan", "anilist"),
    "licensors": ("jikan",),
}
STAFF_ORDER = ("anilist", "anidb")
_PLACEHOLDER_PICTURES = ("/pics/no_pic", "no_pic.png", "no_pic_thumbnail.png")
_REQUIRED = frozenset({"id", "title", "type", "status", "sources"})


@dataclass(frozen=True)
class ProviderOutcome:
    """What happened with one provider: ``ok``, ``failed``, ``not_found`` or ``skipped``."""

    provider: str
    status: Literal["ok", "failed", "not_found", "skipped"]
    detail: str | None = None
    notes: tuple[str, ...] = ()

    def record(self) -> JsonDict:
        out: JsonDict = {"status": self.status}
        if self.detail:
            out["reason" if self.status in ("skipped", "not_found") else "error"] = self.detail
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass
class Assembled:
    entry: AnimeEntry
    offline_only: bool
    dropped: list[str] = field(default_factory=list)


def offline_base(anime_id: str, record: OfflineRecord) -> JsonDict:
    """The entry the offline record alone describes."""
    doc: JsonDict = {
        "id": anime_id,
        "title": record.title,
        "type": record.type.value,
        "status": record.status.value,
        "sources": list(record.sources),
        "episodes": record.episodes,
        "synonyms": union_strings(record.synonyms),
        "tags": union_strings(record.tags),
    }
    if record.anime_season.season.value != "UNDEFINED":
        doc["season"] = record.anime_season.season.value
    if record.anime_season.year is not None:
        doc["year"] = record.anime_season.year
    if record.duration is not None:
        doc["duration"] = record.duration.value
    if record.score is not None:
        doc["score"] = {
            "arithmetic_geometric_mean": record.score.arithmetic_geometric_mean,
            "arithmetic_mean": record.score.arithmetic_mean,
            "median": record.score.median,
        }
    picture = record.picture.strip()
    if picture and not any(p in picture for p in _PLACEHOLDER_PICTURES):
        doc["images"] = {"covers": [picture]}
    companies = {
        "studios": [{"name": s, "type": "animation_studio"} for s in union_strings(record.studios)],
        "producers": [{"name": p, "type": "producer"} for p in union_strings(record.producers)],
    }
    if any(companies.values()):
        doc["staff_data"] = {k: v for k, v in companies.items() if v}
    return doc


def assemble(
    anime_id: str,
    record: OfflineRecord,
    partials: Mapping[str, JsonDict],
    outcomes: Sequence[ProviderOutcome],
    *,
    now: datetime,
) -> Assembled:
    """The entry by the precedence rules; ``partials`` are the providers that answered."""
    doc = offline_base(anime_id, record)
    for name, order in FIRST_OF.items():
        value = first_of(partials, name, order)
        if value is not None:
            doc[name] = value
    _fallbacks(doc, partials)
    doc["synonyms"] = union_strings(
        doc["synonyms"], *(partials.get(p, {}).get("synonyms", []) for p in PROVIDER_ORDER)
    )
    doc["tags"] = union_strings(doc["tags"], *(partials.get(p, {}).get("tags", []) for p in PROVIDER_ORDER))
    flags = [partials.get(p, {}).get("nsfw") for p in PROVIDER_ORDER]
    if any(f is True for f in flags) or any(f is False for f in flags):
        doc["nsfw"] = any(f is True for f in flags)
    doc["images"] = _images(doc.get("images", {}), partials)
    doc["characters"] = merge_characters(_lists(partials, "characters"), CHARACTER_ORDER)
    doc["episode_details"] = merge_episodes(_lists(partials, "episode_details"), EPISODE_ORDER, AIRED_ORDER)
    related = union_by(
        [r for p in RELATED_ORDER for r in partials.get(p, {}).get("related_anime", [])], "url"
    )
    doc["related_anime"] = related or [
        {"title": url, "relation_type": "UNKNOWN", "url": url} for url in record.related_anime
    ]
    doc["statistics"] = {
        k: v for p in PROVIDER_ORDER for k, v in partials.get(p, {}).get("statistics", {}).items() if v
    }
    doc["external_links"] = {
        k: v
        for p in reversed(PROVIDER_ORDER)
        for k, v in partials.get(p, {}).get("external_links", {}).items()
    }
    doc["staff_data"] = _staff(doc.get("staff_data", {}), partials)
    month = month_name(doc.get("aired_dates", {}).get("from")) or first_of(partials, "month", PROVIDER_ORDER)
    if month:
        doc["month"] = month
    offline_only = not any(o.status == "ok" for o in outcomes)
    doc["enrichment_metadata"] = _metadata(outcomes, offline_only, now)
    doc = {k: v for k, v in doc.items() if k in _REQUIRED or not is_empty(v)}
    entry, dropped = _validated(doc, offline_base(anime_id, record))
    return Assembled(entry, offline_only, dropped)


def _fallbacks(doc: JsonDict, partials: Mapping[str, JsonDict]) -> None:
    missing = {
        "type": doc["type"] == "UNKNOWN",
        "status": doc["status"] == "UNKNOWN",
        "episodes": doc["episodes"] == 0,
        "season": "season" not in doc,
        "year": "year" not in doc,
        "duration": "duration" not in doc,
    }
    for name, order in FALLBACK_OF.items():
        if missing[name]:
            value = first_of(partials, name, order)
            if value is not None:
                doc[name] = value


def _lists(partials: Mapping[str, JsonDict], name: str) -> dict[str, list[JsonDict]]:
    return {p: list(v) for p, data in partials.items() if isinstance(v := data.get(name), list)}


def _images(offline: JsonDict, partials: Mapping[str, JsonDict]) -> JsonDict:
    images: JsonDict = {}
    for kind in ("covers", "posters", "banners"):
        found = union_strings(
            *(partials.get(p, {}).get("images", {}).get(kind, []) for p in PROVIDER_ORDER),
            offline.get(kind, []),
        )
        if found:
            images[kind] = found
    return images


def _staff(offline: JsonDict, partials: Mapping[str, JsonDict]) -> JsonDict:
    staff: JsonDict = {}
    for kind, order in COMPANY_ORDER.items():
        companies = first_of({p: d.get("staff_data", {}) for p, d in partials.items()}, kind, order)
        if companies or offline.get(kind):
            staff[kind] = companies or offline[kind]
    people = first_of(
        {p: d.get("staff_data", {}) for p, d in partials.items()}, "production_staff", STAFF_ORDER
    )
    if people:
        staff["production_staff"] = people
    return staff


def _metadata(outcomes: Sequence[ProviderOutcome], offline_only: bool, now: datetime) -> JsonDict:
    failures = [f"{o.provider}: {o.detail}" for o in outcomes if o.status == "failed"]
    meta: JsonDict = {
        "source": "offline-record" if offline_only else "multi-source",
        "enriched_at": format_utc(now),
        "success": not offline_only,
        "offline_only": offline_only,
        "providers": {o.provider: o.record() for o in outcomes},
    }
    if offline_only:
        meta["error_message"] = "no provider answered; the entry is the offline record alone" + (
            f" ({'; '.join(failures)})" if failures else ""
        )
    elif failures:
        meta["error_message"] = "; ".join(failures)
    return meta


_ITEM_MODELS: dict[str, type[SchemaModel]] = {
    "characters": Character,
    "episode_details": EpisodeDetail,
    "related_anime": RelatedAnime,
    "themes": Theme,
    "opening_themes": ThemeSong,
    "ending_themes": ThemeSong,
    "trailers": Trailer,
    "streaming_info": StreamingInfo,
}


def _clean_items(doc: JsonDict, dropped: list[str]) -> None:
    """Drop the list items and provider statistics that do not validate, one by one."""
    for name, model in _ITEM_MODELS.items():
        kept = []
        for i, item in enumerate(doc.get(name) or []):
            try:
                model.model_validate(item)
            except ValidationError as exc:
                dropped.append(f"{name}[{i}]: {_summary(exc)}")
                continue
            kept.append(item)
        if name in doc:
            doc[name] = kept
    for provider, stats in list((doc.get("statistics") or {}).items()):
        try:
            ProviderStatistics.model_validate(stats)
        except ValidationError as exc:
            dropped.append(f"statistics.{provider}: {_summary(exc)}")
            del doc["statistics"][provider]


def _validated(doc: JsonDict, fallback: JsonDict) -> tuple[AnimeEntry, list[str]]:
    """The entry. Invalid items are dropped; a top-level field that still fails falls back to
    the offline record's value or is dropped; every drop is listed in the metadata."""
    dropped: list[str] = []
    _clean_items(doc, dropped)
    replaced: set[str] = set()
    while True:
        try:
            entry = AnimeEntry.from_json_dict(doc)
        except ValidationError as exc:
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]} - replaced
            if not bad or bad & _REQUIRED - fallback.keys():
                raise
            for name in sorted(bad):
                dropped.append(f"{name}: {_summary(exc, name)}")
                replaced.add(name)
                if name in fallback:
                    doc[name] = fallback[name]
                else:
                    doc.pop(name, None)
            continue
        if not dropped or "dropped" in doc["enrichment_metadata"]:
            return entry, dropped
        doc["enrichment_metadata"]["dropped"] = dropped


def _summary(exc: ValidationError, name: str | None = None) -> str:
    for err in exc.errors():
        if name is None or (err["loc"] and str(err["loc"][0]) == name):
            where = ".".join(str(p) for p in err["loc"]) or "value"
            return f"{where}: {err['msg']}"
    return "invalid"
