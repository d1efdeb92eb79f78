"""AniDB's HTTP API (XML): ``?request=anime&client=..&clientver=..&protover=1&aid=..``.

AniDB answers only registered clients and bans clients that ask too often: at most one
request per 2 s (the shared limiter), every answer cached for a day, and a ban (HTTP 555
or ``<error>Banned</error>`` in a 200) pauses every process for an hour. Errors come as
``<error>`` documents with HTTP 200; they are never cached. Dates (``startdate``, episode
``airdate``) are Japanese calendar dates and stay dates.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from avs_enricher.providers.base import JsonDict, ProviderData, Subject, compact, integer, number, text
from avs_enricher.providers.http import ProviderError, ProviderHttp, ProviderLimits, ProviderNotFound
from avs_enricher.times import instant, month_name

NAME = "anidb"
IMAGE_BASE = "https://cdn.anidb.net/images/main/"
_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_BAN_S = 3600.0
_TYPES = {
    "tv series": "TV",
    "movie": "MOVIE",
    "ova": "OVA",
    "web": "ONA",
    "tv special": "SPECIAL",
    "music video": "MUSIC",
    "other": "UNKNOWN",
}
_ROLES = {"main character in": "Main", "secondary cast in": "Supporting", "appears in": "Background"}
_STAFF = {
    "direction": "directors",
    "music": "music_composers",
    "original work": "original_creators",
    "character design": "character_designers",
    "series composition": "series_composition",
}
_LINK = re.compile(r"https?://anidb\.net/\S+ \[([^\]]+)\]")
_MIN_TAG_WEIGHT = 300


class AniDBClient:
    name = NAME

    def __init__(
        self, http: ProviderHttp, limits: ProviderLimits, url: str, *, client: str, version: int
    ) -> None:
        self._http = http
        self._limits = limits
        self._url = url
        self._client = client
        self._version = version

    def skip_reason(self, subject: Subject) -> str | None:
        if not self._client:
            return "not configured: set AVS_ENRICHER_ANIDB_CLIENT to a registered AniDB client name"
        return None if subject.ids.anidb is not None else "no anidb.net page in sources"

    async def _document(self, aid: int | None) -> ET.Element:
        query = urlencode(
            {
                "request": "anime",
                "client": self._client,
                "clientver": self._version,
                "protover": 1,
                "aid": aid,
            }
        )
        body = await self._http.fetch(self._limits, "GET", f"{self._url}?{query}", cacheable=_not_error)
        root = parse_xml(body)
        if root.tag == "error":
            message = (root.text or "").strip() or f"code {root.get('code', '?')}"
            if "banned" in message.lower():
                await self._http.block(self._limits, _BAN_S)
                raise ProviderError(NAME, f"banned by AniDB ({message})", retry_after_s=_BAN_S)
            if "not found" in message.lower():
                raise ProviderNotFound(NAME, message)
            raise ProviderError(NAME, f"AniDB error: {message}")
        if root.tag != "anime":
            raise ProviderError(NAME, f"unexpected <{root.tag}> document")
        return root

    async def anime(self, subject: Subject) -> ProviderData:
        return ProviderData(NAME, map_anime(await self._document(subject.ids.anidb)))

    async def episode(self, subject: Subject, number: int) -> JsonDict | None:
        episodes = map_anime(await self._document(subject.ids.anidb)).get("episode_details", [])
        return next((e for e in episodes if e["episode_number"] == number), None)


def _not_error(body: bytes) -> bool:
    return not body.lstrip().startswith(b"<error")


def parse_xml(body: bytes) -> ET.Element:
    """The document's root; refuses DTDs (entity expansion) and anything that is not XML."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ProviderError(NAME, "the answer declares a DTD; refused")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise ProviderError(NAME, f"answer is not XML ({exc})") from exc


def _text(node: ET.Element | None) -> str | None:
    return text(node.text) if node is not None else None


def _titles(node: ET.Element, tag: str = "title") -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for title in node.findall(tag):
        value = text(title.text)
        if value:
            found.setdefault((title.get(_LANG, ""), title.get("type", "")), value)
    return found


def _description(value: str | None) -> str | None:
    return _LINK.sub(r"\1", value).strip() if value else None


def _image(picture: str | None) -> list[str]:
    return [IMAGE_BASE + picture] if picture else []


def map_anime(root: ET.Element) -> JsonDict:
    aid = root.get("id")
    found_titles = root.find("titles")
    titles = _titles(found_titles) if found_titles is not None else {}
    start = _text(root.find("startdate"))
    permanent = root.find("ratings/permanent")
    staff: dict[str, list[JsonDict]] = {}
    studios: list[JsonDict] = []
    for person in root.findall("creators/name"):
        name, role = text(person.text), person.get("type", "")
        if not name:
            continue
        if role.lower() == "animation work":
            studios.append({"name": name, "type": "animation_studio"})
            continue
        group = _STAFF.get(role.lower(), re.sub(r"[^a-z0-9]+", "_", role.lower()).strip("_") or "other")
        ids = {"anidb": int(person.get("id", ""))} if person.get("id", "").isdigit() else {}
        staff.setdefault(group, []).append(compact({"name": name, "role": role, "staff_ids": ids}))
    tags = sorted(
        ((integer(t.get("weight")) or 0, _text(t.find("name"))) for t in root.findall("tags/tag")),
        key=lambda pair: -pair[0],
    )
    fields = {
        "type": _TYPES.get((_text(root.find("type")) or "").lower()),
        "title_english": titles.get(("en", "official")),
        "title_japanese": titles.get(("ja", "official")),
        "synonyms": [v for (_, kind), v in titles.items() if kind in {"synonym", "short"}],
        "synopsis": _description(_text(root.find("description"))),
        "episodes": integer(_text(root.find("episodecount"))),
        "month": month_name(start),
        "aired_dates": compact({"from": instant(start), "to": instant(_text(root.find("enddate")))}),
        "tags": [name.lower() for weight, name in tags if name and weight >= _MIN_TAG_WEIGHT],
        "statistics": {
            "anidb": compact(
                {
                    "score": number(_text(permanent)),
                    "scored_by": integer(permanent.get("count")) if permanent is not None else None,
                }
            )
        },
        "images": compact({"covers": _image(_text(root.find("picture")))}),
        "staff_data": compact({"studios": studios, "production_staff": staff}),
        "characters": [c for c in map(_character, root.findall("characters/character")) if c],
        "episode_details": sorted(
            (e for e in map(_episode, root.findall("episodes/episode")) if e),
            key=lambda e: e["episode_number"],
        ),
        "related_anime": [
            {
                "title": name,
                "relation_type": re.sub(r"[^A-Z0-9]+", "_", a.get("type", "other").upper()).strip("_"),
                "url": f"https://anidb.net/anime/{a.get('id')}",
            }
            for a in root.findall("relatedanime/anime")
            if (name := text(a.text)) and a.get("id", "").isdigit()
        ],
        "external_links": compact(
            {
                "official site": _text(root.find("url")),
                "anidb": f"https://anidb.net/anime/{aid}" if aid else None,
            }
        ),
    }
    return compact(fields)


def _character(node: ET.Element) -> JsonDict | None:
    name = _text(node.find("name"))
    kind = _text(node.find("charactertype"))
    if not name or (kind is not None and kind != "Character"):
        return None
    cid = node.get("id", "")
    return compact(
        {
            "name": name,
            "role": _ROLES.get(node.get("type", "").lower(), "Background"),
            "gender": _text(node.find("gender")),
            "description": _description(_text(node.find("description"))),
            "images": _image(_text(node.find("picture"))),
            "voice_actors": [
                {"name": v, "language": "Japanese"}
                for v in (text(s.text) for s in node.findall("seiyuu"))
                if v
            ],
            "character_ids": {"anidb": int(cid)} if cid.isdigit() else {},
            "character_pages": {"anidb": f"https://anidb.net/character/{cid}"} if cid.isdigit() else {},
        }
    )


def _episode(node: ET.Element) -> JsonDict | None:
    epno = node.find("epno")
    if epno is None or epno.get("type") != "1":  # 1: regular episodes (specials, credits, ... are not)
        return None
    episode = integer(_text(epno))
    if episode is None:
        return None
    titles = _titles(node)
    by_lang = {lang: value for (lang, _), value in titles.items()}
    length = integer(_text(node.find("length")))
    eid = node.get("id", "")
    return compact(
        {
            "episode_number": episode,
            "title": by_lang.get("en"),
            "title_japanese": by_lang.get("ja"),
            "title_romaji": by_lang.get("x-jat"),
            "aired": instant(_text(node.find("airdate"))),
            "duration": length * 60 if length else None,
            "score": number(_text(node.find("rating"))),
            "episode_pages": {"anidb": f"https://anidb.net/episode/{eid}"} if eid.isdigit() else {},
        }
    )
