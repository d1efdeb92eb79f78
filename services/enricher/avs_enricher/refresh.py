"""Refreshing a live entry: a whole anime (an upcoming premiere) or one episode.

Pure functions (no I/O). Provider values win over the stored ones (that is the point of
a refresh); stored values fill what no provider says (missing fields, and the missing
keys of objects such as ``external_links``), so a reviewer's additions that no provider
knows stay. Lists come whole from the providers. The result goes to review as a change
of the live entry.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from avs_enricher.assembly import AIRED_ORDER, EPISODE_ORDER
from avs_enricher.merging import is_empty, merge_episodes
from avs_shared.errors import Permanent
from avs_shared.schema import AnimeEntry, EpisodeDetail, OfflineRecord

_OURS = ("version", "updated_at", "enrichment_metadata")  # bookkeeping, not content


def record_from_entry(entry: AnimeEntry) -> OfflineRecord:
    """What the live entry says, in the offline record's shape, as the base of a refresh.

    ``status`` is left UNKNOWN so that the providers decide it (a premiere is the moment
    it changes); the stored images are ours (CDN URLs), so none is taken as the picture.
    """
    doc = entry.to_json_dict()
    staff = doc.get("staff_data") if isinstance(doc.get("staff_data"), dict) else {}
    season = entry.season.value if entry.season is not None else "UNDEFINED"
    record: dict[str, Any] = {
        "sources": list(entry.sources),
        "title": entry.title,
        "type": entry.type.value,
        "episodes": entry.episodes,
        "status": "UNKNOWN",
        "animeSeason": {"season": season, **({"year": entry.year} if entry.year else {})},
        "picture": "",
        "thumbnail": "",
        "synonyms": list(entry.synonyms),
        "studios": [c["name"] for c in staff.get("studios", []) if isinstance(c, dict) and c.get("name")],
        "producers": [c["name"] for c in staff.get("producers", []) if isinstance(c, dict) and c.get("name")],
        "relatedAnime": [r.url for r in entry.related_anime if r.url],
        "tags": list(entry.tags),
    }
    if entry.duration:
        record["duration"] = {"value": entry.duration, "unit": "SECONDS"}
    if entry.score is not None:
        record["score"] = {
            "arithmeticGeometricMean": entry.score.arithmetic_geometric_mean,
            "arithmeticMean": entry.score.arithmetic_mean,
            "median": entry.score.median,
        }
    return OfflineRecord.from_json_dict(record)


def refreshed_entry(live: AnimeEntry, fresh: AnimeEntry) -> AnimeEntry | None:
    """``fresh`` with the live entry filling its gaps (and our system fields), or None when
    nothing but bookkeeping changed."""
    doc = fresh.to_json_dict()
    stored = live.to_json_dict()
    for key, value in stored.items():
        if key in ("version", "updated_at"):
            continue
        if key not in doc or is_empty(doc[key]) or (key in ("status", "type") and doc[key] == "UNKNOWN"):
            doc[key] = value
        elif isinstance(doc[key], dict) and isinstance(value, dict):
            doc[key] = {**value, **doc[key]}  # the providers' keys win, the stored others stay
    for key in ("system_status", "orphaned_at"):
        if key in stored:
            doc[key] = stored[key]
    entry = AnimeEntry.from_json_dict(doc)
    return None if same_content(live, entry) else entry


def same_content(a: AnimeEntry, b: AnimeEntry) -> bool:
    da, db = a.to_json_dict(), b.to_json_dict()
    for key in _OURS:
        da.pop(key, None)
        db.pop(key, None)
    return da == db


def refresh_episode(entry: AnimeEntry, number: int, found: dict[str, dict[str, Any]]) -> AnimeEntry | None:
    """``entry`` with episode ``number`` refreshed from the providers' views, or None if unchanged.

    Raises
    ------
    Permanent
        The providers' data for the episode does not validate.
    """
    doc = entry.to_json_dict()
    episodes = [e for e in doc.get("episode_details") or [] if isinstance(e, dict)]
    current = next((e for e in episodes if e.get("episode_number") == number), None)
    views: dict[str, list[dict[str, Any]]] = {p: [{**v, "episode_number": number}] for p, v in found.items()}
    if current is not None:
        views["stored"] = [current]
    merged = merge_episodes(views, (*EPISODE_ORDER, "stored"), (*AIRED_ORDER, "stored"))[0]
    try:
        EpisodeDetail.from_json_dict(merged)
    except ValidationError as exc:
        raise Permanent(f"episode {number} of {entry.id}: the providers' data is invalid: {exc}") from exc
    if current is not None and _same_episode(current, merged):
        return None
    others = [e for e in episodes if e.get("episode_number") != number]
    doc["episode_details"] = sorted([*others, merged], key=lambda e: e.get("episode_number", 0))
    if isinstance(doc.get("episodes"), int) and doc["episodes"] < number:
        doc["episodes"] = number
    return AnimeEntry.from_json_dict(doc)


def _same_episode(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return EpisodeDetail.from_json_dict(a).to_json_dict() == EpisodeDetail.from_json_dict(b).to_json_dict()
