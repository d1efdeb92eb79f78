"""Synthetic raw offline-database records (``OfflineRecord`` JSON) of the same anime.

:func:`offline_record_for` maps any enriched entry to its record;
:func:`generate_offline_records` builds the records of ``generate_entries`` from
the cores alone, which is several times faster.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from avs_indexer.synthetic_core import CDN, build_core, check_count, entry_rng

NO_PIC = "https://raw.githubusercontent.com/manami-project/anime-offline-database/master/pics/no_pic.png"
NO_PIC_THUMBNAIL = NO_PIC.replace("no_pic.png", "no_pic_thumbnail.png")


def offline_record_for(entry: Mapping[str, Any], *, map_types: bool = False) -> dict[str, Any]:
    """The offline-database record describing the same anime as the enriched ``entry``.

    Same sources, title, type, episodes, status, season (``UNDEFINED`` when absent)
    and year. Picture from the first cover or poster (else the source's no-picture
    URL), and duration, score, synonyms, lower-case studio and producer names,
    related-anime URLs and tags when the entry has them. Works for any entry, not
    only generated ones. ``map_types`` turns ``MUSIC``/``PV``/``CM`` into ``SPECIAL``
    as the real source does (its enum has none of them); by default the type is kept.
    """
    images = entry.get("images") or {}
    pictures = [u for u in [*images.get("covers", []), *images.get("posters", [])] if isinstance(u, str)]
    picture = pictures[0] if pictures else NO_PIC
    if picture == NO_PIC:
        thumbnail = NO_PIC_THUMBNAIL
    else:
        thumbnail = picture[:-4] + "t.jpg" if picture.endswith(".jpg") else picture
    season: dict[str, Any] = {"season": entry.get("season") or "UNDEFINED"}
    if entry.get("year") is not None:
        season["year"] = entry["year"]
    kind = entry["type"]
    if map_types and kind in ("MUSIC", "PV", "CM"):
        kind = "SPECIAL"
    record: dict[str, Any] = {"sources": list(entry["sources"]), "title": entry["title"], "type": kind}
    record.update(episodes=entry.get("episodes", 0), status=entry["status"], animeSeason=season)
    record.update(picture=picture, thumbnail=thumbnail)
    if entry.get("duration"):
        record["duration"] = {"value": entry["duration"], "unit": "SECONDS"}
    if score := entry.get("score"):
        record["score"] = {
            "arithmeticGeometricMean": score["arithmetic_geometric_mean"],
            "arithmeticMean": score["arithmetic_mean"],
            "median": score["median"],
        }
    staff = entry.get("staff_data") or {}
    record["synonyms"] = list(entry.get("synonyms") or [])
    record["studios"] = [c["name"].lower() for c in staff.get("studios") or []]
    record["producers"] = [c["name"].lower() for c in staff.get("producers") or []]
    record["relatedAnime"] = [r["url"] for r in entry.get("related_anime") or [] if r.get("url")]
    record["tags"] = list(entry.get("tags") or [])
    return record


def generate_offline_records(count: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Raw offline-database records (``OfflineRecord`` JSON) of the anime of ``generate_entries``.

    Record ``i`` equals ``offline_record_for(entry_i, map_types=True)`` but only the
    core of each anime is generated, so this is several times faster.
    """
    check_count(count)
    for index in range(count):
        core = build_core(seed, index, entry_rng(seed, index))
        view = {
            "sources": core.sources, "title": core.title.romaji, "type": core.type, "episodes": core.episodes,
            "status": core.status, "season": core.season, "year": core.year, "duration": core.duration,
            "images": {"covers": [f"{CDN}/images/anime/{core.image_number}.jpg"]}, "score": core.score,
            "synonyms": core.synonyms, "tags": core.tags,
            "related_anime": [{"url": url} for _, url in core.related],
            "staff_data": {"studios": [{"name": n} for n in core.studios],
                           "producers": [{"name": n} for n in core.producers]},
        }  # fmt: skip
        yield offline_record_for(view, map_types=True)
