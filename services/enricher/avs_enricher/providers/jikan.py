"""Jikan (the MyAnimeList API, v4): ``/anime/{id}/full``, ``/characters``, ``/episodes``.

MAL is the richest source of synopsis, rating, genres, themes, demographics, theme songs,
companies, relations and per-episode titles. Times: ``aired`` values carry an offset
(``+00:00`` on dates, ``+09:00`` on episodes) and are converted to UTC; ``broadcast`` is
a weekly Japan-time slot converted to the same slot in UTC.
"""

from __future__ import annotations

import re
from typing import Any

from avs_enricher.providers.base import (
    JsonDict,
    ProviderData,
    Subject,
    compact,
    dig,
    integer,
    load_json,
    number,
    require_object,
    text,
)
from avs_enricher.providers.http import ProviderError, ProviderHttp, ProviderLimits
from avs_enricher.times import broadcast_utc, instant, month_name

NAME = "jikan"
_TYPES = {
    "tv": "TV",
    "movie": "MOVIE",
    "ova": "OVA",
    "ona": "ONA",
    "special": "SPECIAL",
    "music": "MUSIC",
    "pv": "PV",
    "cm": "CM",
    "tv special": "SPECIAL",
}
_STATUS = {"finished airing": "FINISHED", "currently airing": "ONGOING", "not yet aired": "UPCOMING"}
_SEASONS = {"winter", "spring", "summer", "fall"}
_THEME = re.compile(
    r'^(?:\d+:\s*)?"?(?P<title>.+?)"?(?:\s+by\s+(?P<artist>.+?))?(?:\s+\((?P<eps>eps?\s[^)]*)\))?$'
)
_DURATION = re.compile(r"(?:(\d+)\s*hr\.?)?\s*(?:(\d+)\s*min\.?)?\s*(?:(\d+)\s*sec\.?)?")
_REWRITE = re.compile(r"\s*\[Written by MAL Rewrite\]\s*$")


class JikanClient:
    name = NAME

    def __init__(self, http: ProviderHttp, limits: ProviderLimits, base_url: str, *, max_pages: int) -> None:
        self._http = http
        self._limits = limits
        self._base = base_url.rstrip("/")
        self._max_pages = max_pages

    def skip_reason(self, subject: Subject) -> str | None:
        return None if subject.ids.mal is not None else "no myanimelist.net page in sources"

    async def _get(self, path: str) -> Any:
        return load_json(NAME, await self._http.fetch(self._limits, "GET", f"{self._base}{path}"))

    async def anime(self, subject: Subject) -> ProviderData:
        mal = subject.ids.mal
        full = require_object(NAME, dig(await self._get(f"/anime/{mal}/full"), "data"), "anime")
        data = ProviderData(NAME, map_anime(full))
        try:
            characters = dig(await self._get(f"/anime/{mal}/characters"), "data", default=[])
            data.fields["characters"] = [c for c in map(map_character, characters) if c]
        except ProviderError as exc:
            data.notes.append(f"characters: {exc.reason}")
        try:
            data.fields["episode_details"] = await self._episodes(mal)
        except ProviderError as exc:
            data.notes.append(f"episodes: {exc.reason}")
        return data

    async def _episodes(self, mal: int | None) -> list[JsonDict]:
        episodes: list[JsonDict] = []
        for page in range(1, self._max_pages + 1):
            doc = await self._get(f"/anime/{mal}/episodes?page={page}")
            episodes += [e for e in map(map_episode, dig(doc, "data", default=[])) if e]
            if not dig(doc, "pagination", "has_next_page", default=False):
                break
        return episodes

    async def episode(self, subject: Subject, number: int) -> JsonDict | None:
        doc = await self._get(f"/anime/{subject.ids.mal}/episodes/{number}")
        found = map_episode(dig(doc, "data"))
        if found is not None:
            found["episode_number"] = number
        return found


def _names(items: Any) -> list[str]:
    return [n for n in (text(dig(i, "name")) for i in items or []) if n]


def _companies(items: Any, kind: str) -> list[JsonDict]:
    return [
        compact({"name": text(dig(i, "name")), "type": kind, "url": text(dig(i, "url"))})
        for i in items or []
        if text(dig(i, "name"))
    ]


def person_name(name: Any) -> str | None:
    """MAL writes ``Family, Given``; the entry uses ``Given Family``."""
    raw = text(name)
    if raw and raw.count(",") == 1:
        family, given = (part.strip() for part in raw.split(","))
        return f"{given} {family}".strip()
    return raw


def duration_seconds(value: Any) -> int | None:
    """``"24 min per ep"``, ``"1 hr 55 min"``, ``"45 sec"`` → seconds."""
    raw = text(value)
    match = _DURATION.search(raw) if raw else None
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds or None


def theme_song(value: Any) -> JsonDict | None:
    raw = text(value)
    match = _THEME.match(raw) if raw else None
    if not match:
        return None
    return compact({"title": match["title"].strip(), "artist": match["artist"], "episodes": match["eps"]})


def map_anime(d: JsonDict) -> JsonDict:
    aired_from = dig(d, "aired", "from")
    rating = text(d.get("rating"))
    explicit = _names(d.get("explicit_genres"))
    season = (text(d.get("season")) or "").lower()
    relations = [
        compact(
            {
                "title": text(e.get("name")),
                "relation_type": _relation(r.get("relation")),
                "url": text(e.get("url")),
            }
        )
        for r in d.get("relations") or []
        for e in r.get("entry") or []
        if e.get("type") == "anime" and text(e.get("name"))
    ]
    trailer = text(dig(d, "trailer", "url"))
    fields = {
        "type": _TYPES.get((text(d.get("type")) or "").lower()),
        "status": _STATUS.get((text(d.get("status")) or "").lower()),
        "title_english": text(d.get("title_english")),
        "title_japanese": text(d.get("title_japanese")),
        "synonyms": [s for s in map(text, d.get("title_synonyms") or []) if s],
        "synopsis": _REWRITE.sub("", text(d.get("synopsis")) or "") or None,
        "background": text(d.get("background")),
        "genres": _names(d.get("genres")) + explicit,
        "themes": [{"name": n} for n in _names(d.get("themes"))],
        "demographics": _names(d.get("demographics")),
        "rating": rating,
        "nsfw": (rating.startswith("Rx") or "Hentai" in explicit) if rating else None,
        "source_material": (text(d.get("source")) or "").upper() or None,
        "episodes": integer(d.get("episodes")),
        "duration": duration_seconds(d.get("duration")),
        "season": season.upper() if season in _SEASONS else None,
        "year": integer(d.get("year")),
        "month": month_name(aired_from),
        "aired_dates": compact(
            {
                "from": instant(aired_from),
                "to": instant(dig(d, "aired", "to")),
                "string": text(dig(d, "aired", "string")),
            }
        ),
        "broadcast": broadcast_utc(*(dig(d, "broadcast", k) for k in ("day", "time", "timezone"))),
        "statistics": {
            "mal": compact(
                {
                    "score": number(d.get("score")),
                    "scored_by": integer(d.get("scored_by")),
                    "rank": integer(d.get("rank")),
                    "popularity_rank": integer(d.get("popularity")),
                    "members": integer(d.get("members")),
                    "favorites": integer(d.get("favorites")),
                }
            )
        },
        "images": compact(
            {
                "covers": [
                    u
                    for u in [
                        text(dig(d, "images", "jpg", "large_image_url"))
                        or text(dig(d, "images", "jpg", "image_url"))
                    ]
                    if u
                ]
            }
        ),
        "trailers": [
            compact({"url": trailer, "thumbnail_url": text(dig(d, "trailer", "images", "maximum_image_url"))})
        ]
        if trailer
        else [],
        "staff_data": compact(
            {
                "studios": _companies(d.get("studios"), "animation_studio"),
                "producers": _companies(d.get("producers"), "producer"),
                "licensors": _companies(d.get("licensors"), "licensor"),
            }
        ),
        "streaming_licenses": _names(d.get("licensors")),
        "related_anime": relations,
        "opening_themes": [t for t in map(theme_song, dig(d, "theme", "openings", default=[])) if t],
        "ending_themes": [t for t in map(theme_song, dig(d, "theme", "endings", default=[])) if t],
        "external_links": {
            n.lower(): u
            for n, u in ((text(e.get("name")), text(e.get("url"))) for e in d.get("external") or [])
            if n and u
        },
        "streaming_info": [
            {"platform": n, "url": u}
            for n, u in ((text(s.get("name")), text(s.get("url"))) for s in d.get("streaming") or [])
            if n and u
        ],
    }
    return compact(fields)


def _relation(value: Any) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", (text(value) or "OTHER").upper()).strip("_")


def map_character(item: Any) -> JsonDict | None:
    name = person_name(dig(item, "character", "name"))
    if not name:
        return None
    url, mal_id = text(dig(item, "character", "url")), dig(item, "character", "mal_id")
    image = text(dig(item, "character", "images", "jpg", "image_url"))
    voices = [
        compact({"name": person_name(dig(v, "person", "name")), "language": text(v.get("language"))})
        for v in item.get("voice_actors") or []
        if person_name(dig(v, "person", "name"))
    ]
    return compact(
        {
            "name": name,
            "role": text(item.get("role")) or "Unknown",
            "favorites": integer(item.get("favorites")),
            "images": [image] if image else [],
            "voice_actors": voices,
            "character_pages": {"mal": url} if url else {},
            "character_ids": {"mal": mal_id} if isinstance(mal_id, int) else {},
        }
    )


def map_episode(item: Any) -> JsonDict | None:
    episode = integer(dig(item, "mal_id"))
    if episode is None:
        return None
    url = text(item.get("url"))
    return compact(
        {
            "episode_number": episode,
            "title": text(item.get("title")),
            "title_japanese": text(item.get("title_japanese")),
            "title_romaji": text(item.get("title_romanji")),
            "aired": instant(item.get("aired")),
            "score": number(item.get("score")),
            "filler": item.get("filler") if isinstance(item.get("filler"), bool) else None,
            "recap": item.get("recap") if isinstance(item.get("recap"), bool) else None,
            "duration": integer(item.get("duration")),
            "synopsis": text(item.get("synopsis")),
            "episode_pages": {"mal": url} if url else {},
        }
    )
