"""Kitsu (JSON:API, ``/api/edge``): poster and cover images, categories, statistics, episodes
with synopses and thumbnails.

A Kitsu source names the anime by number or by slug; a slug is looked up with
``filter[slug]``. Kitsu's ``averageRating`` is a percentage (``"82.47"``), stored as 0-10.
Dates (``startDate``, episode ``airdate``) are calendar dates.
"""

from __future__ import annotations

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
from avs_enricher.providers.http import ProviderError, ProviderHttp, ProviderLimits, ProviderNotFound
from avs_enricher.times import instant, month_name

NAME = "kitsu"
_PAGE = 20
_SUBTYPES = {"TV": "TV", "movie": "MOVIE", "OVA": "OVA", "ONA": "ONA", "special": "SPECIAL", "music": "MUSIC"}
_STATUS = {
    "finished": "FINISHED",
    "current": "ONGOING",
    "upcoming": "UPCOMING",
    "unreleased": "UPCOMING",
    "tba": "UNKNOWN",
}
_HEADERS = {"Accept": "application/vnd.api+json"}


class KitsuClient:
    name = NAME

    def __init__(
        self,
        http: ProviderHttp,
        limits: ProviderLimits,
        base_url: str,
        *,
        max_pages: int,
        page_size: int = _PAGE,
    ) -> None:
        self._http = http
        self._limits = limits
        self._base = base_url.rstrip("/")
        self._max_pages = max_pages
        self._page_size = page_size

    def skip_reason(self, subject: Subject) -> str | None:
        return None if subject.ids.kitsu is not None else "no kitsu.app page in sources"

    async def _get(self, path: str) -> Any:
        return load_json(
            NAME, await self._http.fetch(self._limits, "GET", f"{self._base}{path}", headers=_HEADERS)
        )

    async def _resource(self, ref: str) -> tuple[JsonDict, list[JsonDict]]:
        """The anime resource and its ``included`` categories."""
        if ref.isdigit():
            doc = await self._get(f"/anime/{ref}?include=categories")
            resource = dig(doc, "data")
        else:
            doc = await self._get(f"/anime?filter%5Bslug%5D={quote(ref, safe='')}&include=categories")
            resource = dig(doc, "data", 0)
        if not isinstance(resource, dict) or not text(resource.get("id")):
            raise ProviderNotFound(NAME, f"no anime {ref!r}")
        return resource, [i for i in dig(doc, "included", default=[]) if isinstance(i, dict)]

    async def anime(self, subject: Subject) -> ProviderData:
        resource, included = await self._resource(str(subject.ids.kitsu))
        data = ProviderData(NAME, map_anime(resource, included))
        try:
            data.fields["episode_details"] = await self._episodes(resource["id"])
        except ProviderError as exc:
            data.notes.append(f"episodes: {exc.reason}")
        return data

    async def _episodes(self, kitsu_id: str) -> list[JsonDict]:
        # Pages by offset while the answer says there is a next one (its `links.next` URL is
        # not followed: it could name any host).
        episodes: list[JsonDict] = []
        for page in range(self._max_pages):
            query = f"page%5Blimit%5D={self._page_size}&page%5Boffset%5D={page * self._page_size}&sort=number"
            doc = await self._get(f"/anime/{kitsu_id}/episodes?{query}")
            episodes += [e for e in map(map_episode, dig(doc, "data", default=[])) if e]
            if not text(dig(doc, "links", "next")):
                break
        return episodes

    async def episode(self, subject: Subject, number: int) -> JsonDict | None:
        resource, _ = await self._resource(str(subject.ids.kitsu))
        doc = await self._get(f"/anime/{resource['id']}/episodes?filter%5Bnumber%5D={number}")
        found = [
            e for e in map(map_episode, dig(doc, "data", default=[])) if e and e["episode_number"] == number
        ]
        return found[0] if found else None


def map_anime(resource: JsonDict, included: list[JsonDict]) -> JsonDict:
    a = resource.get("attributes") or {}
    rating = number(a.get("averageRating"))
    start = text(a.get("startDate"))
    video = text(a.get("youtubeVideoId"))
    length = integer(a.get("episodeLength"))
    fields = {
        "type": _SUBTYPES.get(text(a.get("subtype")) or ""),
        "status": _STATUS.get(text(a.get("status")) or ""),
        "title_english": text(dig(a, "titles", "en")) or text(dig(a, "titles", "en_us")),
        "title_japanese": text(dig(a, "titles", "ja_jp")),
        "synonyms": [t for t in map(text, a.get("abbreviatedTitles") or []) if t],
        "synopsis": text(a.get("synopsis")) or text(a.get("description")),
        "tags": [
            t.lower()
            for t in (text(dig(i, "attributes", "title")) for i in included if i.get("type") == "categories")
            if t
        ],
        "nsfw": a.get("nsfw") if isinstance(a.get("nsfw"), bool) else None,
        "episodes": integer(a.get("episodeCount")),
        "duration": length * 60 if length else None,
        "month": month_name(start),
        "aired_dates": compact({"from": instant(start), "to": instant(a.get("endDate"))}),
        "statistics": {
            "kitsu": compact(
                {
                    "score": round(rating / 10, 3) if rating is not None else None,
                    "members": integer(a.get("userCount")),
                    "favorites": integer(a.get("favoritesCount")),
                    "popularity_rank": integer(a.get("popularityRank")),
                    "rank": integer(a.get("ratingRank")),
                }
            )
        },
        "images": compact(
            {
                "posters": [u for u in [text(dig(a, "posterImage", "original"))] if u],
                "banners": [u for u in [text(dig(a, "coverImage", "original"))] if u],
            }
        ),
        "trailers": [{"url": f"https://www.youtube.com/watch?v={video}"}] if video else [],
    }
    return compact(fields)


def map_episode(item: Any) -> JsonDict | None:
    a = dig(item, "attributes", default={})
    episode = integer(a.get("number"))
    if episode is None:
        return None
    length = integer(a.get("length"))
    thumbnail = text(dig(a, "thumbnail", "original"))
    return compact(
        {
            "episode_number": episode,
            "title": text(a.get("canonicalTitle")) or text(dig(a, "titles", "en_us")),
            "title_japanese": text(dig(a, "titles", "ja_jp")),
            "title_romaji": text(dig(a, "titles", "en_jp")),
            "synopsis": text(a.get("synopsis")) or text(a.get("description")),
            "aired": instant(a.get("airdate")),
            "duration": length * 60 if length else None,
            "season_number": integer(a.get("seasonNumber")),
            "thumbnails": [thumbnail] if thumbnail else [],
        }
    )
