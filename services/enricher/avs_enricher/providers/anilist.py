"""AniList (GraphQL ``Media``): English and native titles, tags with descriptions, banner and
cover images, staff, characters with native names, exact airing times.

AniList reports some errors with HTTP 200 and an ``errors`` list: those answers are not
cached. ``airingAt`` is Unix time (UTC); start and end dates are calendar dates.
"""

from __future__ import annotations

import json
import re
from typing import Any

from avs_enricher.providers.base import (
    JsonDict,
    ProviderData,
    Subject,
    compact,
    dig,
    html_to_text,
    integer,
    load_json,
    number,
    require_object,
    text,
)
from avs_enricher.providers.http import ProviderError, ProviderHttp, ProviderLimits, ProviderNotFound
from avs_enricher.times import date_parts, instant, month_name, unix_instant

NAME = "anilist"

MEDIA_QUERY = """
query ($id: Int) {
  Media(id: $id, type: ANIME) {
    id idMal siteUrl
    title { romaji english native }
    synonyms format status episodes duration season seasonYear isAdult source
    startDate { year month day } endDate { year month day }
    description(asHtml: false)
    genres
    tags { name description rank isMediaSpoiler }
    averageScore popularity favourites
    coverImage { extraLarge large }
    bannerImage
    trailer { id site thumbnail }
    studios { edges { isMain node { name isAnimationStudio siteUrl } } }
    rankings { rank type format year season allTime }
    airingSchedule(perPage: 50) { nodes { episode airingAt } }
    characters(perPage: 25, sort: [ROLE, RELEVANCE]) {
      edges {
        role
        node { id name { full native alternative } image { large } description gender age siteUrl favourites }
        voiceActors(language: JAPANESE) { id name { full native } languageV2 }
      }
    }
    staff(perPage: 25, sort: [RELEVANCE]) {
      edges { role node { id name { full native } image { large } primaryOccupations siteUrl } }
    }
    relations { edges { relationType node { id type title { romaji } siteUrl } } }
    externalLinks { site url type }
  }
}
""".strip()

EPISODE_QUERY = """
query ($id: Int, $episode: Int) {
  AiringSchedule(mediaId: $id, episode: $episode) { episode airingAt }
}
""".strip()

_FORMATS = {
    "TV": "TV",
    "TV_SHORT": "TV",
    "MOVIE": "MOVIE",
    "SPECIAL": "SPECIAL",
    "OVA": "OVA",
    "ONA": "ONA",
    "MUSIC": "MUSIC",
}
_STATUS = {
    "FINISHED": "FINISHED",
    "RELEASING": "ONGOING",
    "NOT_YET_RELEASED": "UPCOMING",
    "CANCELLED": "UNKNOWN",
    "HIATUS": "ONGOING",
}
_STAFF_GROUPS = {
    "director": "directors",
    "original creator": "original_creators",
    "original story": "original_story",
    "character design": "character_designers",
    "music": "music_composers",
    "series composition": "series_composition",
    "script": "scripts",
    "animation director": "animation_directors",
    "executive producer": "executive_producers",
    "producer": "producers",
}


class AniListClient:
    name = NAME

    def __init__(self, http: ProviderHttp, limits: ProviderLimits, url: str) -> None:
        self._http = http
        self._limits = limits
        self._url = url

    def skip_reason(self, subject: Subject) -> str | None:
        return None if subject.ids.anilist is not None else "no anilist.co page in sources"

    async def _query(self, query: str, variables: dict[str, Any]) -> Any:
        body = json.dumps({"query": query, "variables": variables}, sort_keys=True, separators=(",", ":"))
        raw = await self._http.fetch(
            self._limits,
            "POST",
            self._url,
            body=body.encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            cacheable=_no_errors,
        )
        doc = load_json(NAME, raw)
        errors = dig(doc, "errors", default=[])
        if errors:
            message = "; ".join(str(dig(e, "message", default="error")) for e in errors)[:300]
            if any(dig(e, "status") == 404 for e in errors):
                raise ProviderNotFound(NAME, f"not found ({message})")
            raise ProviderError(NAME, f"GraphQL errors: {message}")
        return doc

    async def anime(self, subject: Subject) -> ProviderData:
        doc = await self._query(MEDIA_QUERY, {"id": subject.ids.anilist})
        return ProviderData(NAME, map_media(require_object(NAME, dig(doc, "data", "Media"), "Media")))

    async def episode(self, subject: Subject, number: int) -> JsonDict | None:
        try:
            doc = await self._query(EPISODE_QUERY, {"id": subject.ids.anilist, "episode": number})
        except ProviderNotFound:
            return None
        aired = unix_instant(dig(doc, "data", "AiringSchedule", "airingAt"))
        return {"episode_number": number, "aired": aired} if aired else None


def _no_errors(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return isinstance(doc, dict) and not doc.get("errors")


def _role(value: Any) -> str:
    return (text(value) or "Unknown").replace("_", " ").title()


def _staff_group(role: str) -> str:
    base = re.sub(r"\s*\(.*?\)\s*", " ", role).strip().lower()
    return _STAFF_GROUPS.get(base) or re.sub(r"[^a-z0-9]+", "_", base).strip("_") or "other"


def map_media(m: JsonDict) -> JsonDict:
    start = date_parts(*(dig(m, "startDate", k) for k in ("year", "month", "day")))
    end = date_parts(*(dig(m, "endDate", k) for k in ("year", "month", "day")))
    tags = [t for t in m.get("tags") or [] if text(dig(t, "name")) and not dig(t, "isMediaSpoiler")]
    score = number(m.get("averageScore"))
    rankings = [r for r in m.get("rankings") or [] if integer(dig(r, "rank")) is not None]
    trailer = m.get("trailer") or {}
    studios = dig(m, "studios", "edges", default=[])
    source = text(m.get("source"))
    fields = {
        "type": _FORMATS.get(text(m.get("format")) or ""),
        "status": _STATUS.get(text(m.get("status")) or ""),
        "title_english": text(dig(m, "title", "english")),
        "title_japanese": text(dig(m, "title", "native")),
        "synonyms": [s for s in map(text, m.get("synonyms") or []) if s],
        "synopsis": html_to_text(m.get("description")),
        "genres": [g for g in map(text, m.get("genres") or []) if g],
        "tags": [t["name"].strip().lower() for t in tags],
        "themes": [
            compact({"name": t["name"].strip(), "description": text(t.get("description"))}) for t in tags
        ],
        "nsfw": m.get("isAdult") if isinstance(m.get("isAdult"), bool) else None,
        "source_material": source.replace("_", " ") if source else None,
        "episodes": integer(m.get("episodes")),
        "duration": (integer(m.get("duration")) or 0) * 60 or None,
        "season": text(m.get("season")),
        "year": integer(m.get("seasonYear")),
        "month": month_name(start),
        "aired_dates": compact({"from": instant(start), "to": instant(end)}),
        "statistics": {
            "anilist": compact(
                {
                    "score": score / 10 if score is not None else None,
                    "members": integer(m.get("popularity")),
                    "favorites": integer(m.get("favourites")),
                    "rank": _all_time(rankings, "RATED"),
                    "popularity_rank": _all_time(rankings, "POPULAR"),
                    "contextual_ranks": [_rank(r) for r in rankings],
                }
            )
        },
        "images": compact(
            {
                "covers": [
                    u
                    for u in [text(dig(m, "coverImage", "extraLarge")) or text(dig(m, "coverImage", "large"))]
                    if u
                ],
                "banners": [u for u in [text(m.get("bannerImage"))] if u],
            }
        ),
        "trailers": [
            compact(
                {
                    "url": f"https://www.youtube.com/watch?v={trailer['id']}",
                    "thumbnail_url": text(trailer.get("thumbnail")),
                }
            )
        ]
        if trailer.get("site") == "youtube" and text(trailer.get("id"))
        else [],
        "staff_data": compact(
            {
                "studios": [
                    _company(e, "animation_studio") for e in studios if dig(e, "node", "isAnimationStudio")
                ],
                "producers": [
                    _company(e, "producer") for e in studios if not dig(e, "node", "isAnimationStudio")
                ],
                "production_staff": _staff(dig(m, "staff", "edges", default=[])),
            }
        ),
        "characters": [c for c in map(_character, dig(m, "characters", "edges", default=[])) if c],
        "episode_details": [
            {"episode_number": integer(n["episode"]), "aired": unix_instant(n.get("airingAt"))}
            for n in dig(m, "airingSchedule", "nodes", default=[])
            if integer(dig(n, "episode")) is not None and unix_instant(n.get("airingAt"))
        ],
        "related_anime": [
            compact(
                {
                    "title": text(dig(e, "node", "title", "romaji")),
                    "relation_type": text(e.get("relationType")) or "OTHER",
                    "url": text(dig(e, "node", "siteUrl")),
                }
            )
            for e in dig(m, "relations", "edges", default=[])
            if dig(e, "node", "type") == "ANIME" and text(dig(e, "node", "title", "romaji"))
        ],
        "external_links": {
            (text(x.get("site")) or "").lower(): x["url"]
            for x in m.get("externalLinks") or []
            if text(x.get("site")) and text(x.get("url")) and x.get("type") != "STREAMING"
        },
        "streaming_info": [
            {"platform": x["site"], "url": x["url"]}
            for x in m.get("externalLinks") or []
            if x.get("type") == "STREAMING" and text(x.get("site")) and text(x.get("url"))
        ],
    }
    return compact(fields)


def _all_time(rankings: list[JsonDict], kind: str) -> int | None:
    return next((integer(r["rank"]) for r in rankings if r.get("type") == kind and r.get("allTime")), None)


def _rank(r: JsonDict) -> JsonDict:
    return compact(
        {
            "rank": integer(r["rank"]),
            "type": text(r.get("type")) or "UNKNOWN",
            "format": text(r.get("format")),
            "year": integer(r.get("year")),
            "season": text(r.get("season")),
            "all_time": r.get("allTime") if isinstance(r.get("allTime"), bool) else None,
        }
    )


def _company(edge: Any, kind: str) -> JsonDict:
    return compact(
        {"name": text(dig(edge, "node", "name")), "type": kind, "url": text(dig(edge, "node", "siteUrl"))}
    )


def _staff(edges: list[Any]) -> dict[str, list[JsonDict]]:
    groups: dict[str, list[JsonDict]] = {}
    for edge in edges:
        name, role = text(dig(edge, "node", "name", "full")), text(dig(edge, "role"))
        if not name or not role:
            continue
        member = compact(
            {
                "name": name,
                "role": role,
                "native_name": text(dig(edge, "node", "name", "native")),
                "staff_ids": {"anilist": dig(edge, "node", "id")}
                if isinstance(dig(edge, "node", "id"), int)
                else {},
                "image": text(dig(edge, "node", "image", "large")),
                "primary_occupations": [
                    o for o in map(text, dig(edge, "node", "primaryOccupations", default=[])) if o
                ],
            }
        )
        groups.setdefault(_staff_group(role), []).append(member)
    return groups


def _character(edge: Any) -> JsonDict | None:
    node = dig(edge, "node", default={})
    name = text(dig(node, "name", "full"))
    if not name:
        return None
    image, page = text(dig(node, "image", "large")), text(node.get("siteUrl"))
    age = text(node.get("age"))
    return compact(
        {
            "name": name,
            "role": _role(edge.get("role")),
            "name_native": text(dig(node, "name", "native")),
            "name_variations": [a for a in map(text, dig(node, "name", "alternative", default=[])) if a],
            "description": html_to_text(node.get("description")),
            "gender": text(node.get("gender")),
            "age": age,
            "favorites": integer(node.get("favourites")),
            "images": [image] if image else [],
            "character_pages": {"anilist": page} if page else {},
            "character_ids": {"anilist": node["id"]} if isinstance(node.get("id"), int) else {},
            "voice_actors": [
                compact({"name": text(dig(v, "name", "full")), "language": text(v.get("languageV2"))})
                for v in edge.get("voiceActors") or []
                if text(dig(v, "name", "full"))
            ],
        }
    )
