"""AnimeSchedule (``/api/v3``): broadcast times of the Japanese, subbed and dubbed versions,
premieres and delays.

The offline database has no AnimeSchedule pages, so the anime is found by a title search
(``/anime?q=``) and accepted only when AnimeSchedule's own cross-reference names one of our
MyAnimeList or AniList ids (a title alone is not proof), then read in full from
``/anime/{route}``. Its times are Japan times when naive and ``0001-01-01`` means unknown;
they are stored in UTC, date-only premieres stay dates.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from avs_enricher.providers.base import (
    JsonDict,
    ProviderData,
    Subject,
    compact,
    dig,
    integer,
    load_json,
    number,
    text,
)
from avs_enricher.providers.http import ProviderHttp, ProviderLimits, ProviderNotFound
from avs_enricher.times import date_or_instant, month_name

NAME = "animeschedule"
IMAGE_BASE = "https://img.animeschedule.net/production/assets/public/img/"
_ROUTE = re.compile(r"^[A-Za-z0-9_-]+$")


class AnimeScheduleClient:
    name = NAME

    def __init__(
        self, http: ProviderHttp, limits: ProviderLimits, base_url: str, *, token: str | None
    ) -> None:
        self._http = http
        self._limits = limits
        self._base = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def skip_reason(self, subject: Subject) -> str | None:
        if subject.ids.mal is None and subject.ids.anilist is None:
            return "no myanimelist.net or anilist.co page in sources to match AnimeSchedule's results against"
        return None

    async def _get(self, path: str) -> Any:
        raw = await self._http.fetch(self._limits, "GET", f"{self._base}{path}", headers=self._headers)
        return load_json(NAME, raw)

    async def anime(self, subject: Subject) -> ProviderData:
        results = dig(await self._get(f"/anime?q={quote(subject.title, safe='')}"), "anime", default=[])
        match = next((a for a in results if isinstance(a, dict) and _same_anime(a, subject)), None)
        route = text(dig(match, "route"))
        if match is None or route is None or not _ROUTE.match(route):
            raise ProviderNotFound(
                NAME, f"no search result for {subject.title!r} links to our MAL/AniList ids"
            )
        detail = await self._get(f"/anime/{route}")
        return ProviderData(
            NAME, map_anime(detail if isinstance(detail, dict) and detail.get("route") else match)
        )

    async def episode(self, subject: Subject, number: int) -> JsonDict | None:
        return None  # AnimeSchedule has no per-episode data


def _linked_id(value: Any, host: str) -> int | None:
    match = re.search(rf"{re.escape(host)}/anime/(\d+)", text(value) or "")
    return int(match[1]) if match else None


def _same_anime(item: JsonDict, subject: Subject) -> bool:
    websites = item.get("websites") or {}
    mal = _linked_id(websites.get("mal"), "myanimelist.net")
    anilist = _linked_id(websites.get("aniList"), "anilist.co")
    return (mal is not None and mal == subject.ids.mal) or (
        anilist is not None and anilist == subject.ids.anilist
    )


def map_anime(a: JsonDict) -> JsonDict:
    image = text(a.get("imageVersionRoute"))
    score = number(dig(a, "stats", "averageScore"))
    route = text(a.get("route"))
    premier = a.get("premier")
    fields = {
        "title_english": text(dig(a, "names", "english")),
        "title_japanese": text(dig(a, "names", "native")),
        "synonyms": [s for s in map(text, dig(a, "names", "synonyms", default=[])) if s],
        "month": month_name(premier),
        "episodes": integer(a.get("episodes")),
        "duration": (integer(a.get("lengthMin")) or 0) * 60 or None,
        "broadcast_schedule": compact(
            {
                "jpn_time": date_or_instant(a.get("jpnTime")),
                "sub_time": date_or_instant(a.get("subTime")),
                "dub_time": date_or_instant(a.get("dubTime")),
            }
        ),
        "premiere_dates": compact(
            {
                "original": date_or_instant(premier),
                "sub": date_or_instant(a.get("subPremier")),
                "dub": date_or_instant(a.get("dubPremier")),
            }
        ),
        "delay_information": compact(
            {
                "delayed_timetable": a.get("delayedTimetable")
                if isinstance(a.get("delayedTimetable"), bool)
                else None,
                "delayed_from": date_or_instant(a.get("delayedFrom")),
                "delayed_until": date_or_instant(a.get("delayedUntil")),
                "delay_reason": text(a.get("delayDescription")),
            }
        ),
        "statistics": {
            "animeschedule": compact(
                {
                    "score": round(score / 10, 3) if score is not None else None,
                    "scored_by": integer(dig(a, "stats", "ratingCount")),
                    "members": integer(dig(a, "stats", "trackedCount")),
                }
            )
        },
        "images": compact({"covers": [IMAGE_BASE + image] if image else []}),
        "external_links": {"animeschedule": f"https://animeschedule.net/anime/{route}"} if route else {},
    }
    return compact(fields)
