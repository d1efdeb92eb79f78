"""The upstream paths and query parameters the proxy forwards; everything else is refused.

A path is checked twice: first for anything that could escape the upstream API
(``..``, percent-encoded dots, slashes or backslashes, empty segments, schemes, hosts)
→ 400; then against the provider's route templates → 404 when none matches. Query
parameters not listed for the matched route are dropped; a listed one with a bad value
or given twice → 400. The kept parameters are sorted, so equivalent URLs share a cache
entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from avs_api.proxy.errors import invalid_path, invalid_query, path_not_proxied

_MAX_PATH_CHARS = 200
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,40}")
_ENCODED_ESCAPES = ("%2e", "%2f", "%5c", "%25", "%00", "%3a")
_PLACEHOLDERS: dict[str, re.Pattern[str]] = {
    "{id}": re.compile(r"[1-9][0-9]{0,9}"),
    "{year}": re.compile(r"(19|20)[0-9]{2}"),
    "{season}": re.compile(r"winter|spring|summer|fall"),
}


def _enum(*values: str) -> str:
    return "|".join(re.escape(v) for v in values)


INT = r"[0-9]{1,6}"
TEXT = r"[^\x00-\x1f\x7f]{1,100}"
FLAG = r"|true|false"
ID_LIST = r"[0-9]{1,5}(,[0-9]{1,5}){0,19}"
DATE = r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?"
SCORE = r"(10|[0-9])(\.[0-9]{1,2})?"


@dataclass(frozen=True)
class Route:
    """A path template (``anime/{id}/episodes``) and the query parameters it accepts."""

    template: str
    params: Mapping[str, re.Pattern[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, template: str, params: Mapping[str, str] | None = None) -> Route:
        return cls(template, {name: re.compile(p) for name, p in (params or {}).items()})

    def matches(self, segments: list[str]) -> bool:
        parts = self.template.split("/")
        if len(parts) != len(segments):
            return False
        for part, segment in zip(parts, segments, strict=True):
            placeholder = _PLACEHOLDERS.get(part)
            if placeholder is None and part != segment:
                return False
            if placeholder is not None and not placeholder.fullmatch(segment):
                return False
        return True


@dataclass(frozen=True)
class Resolved:
    """A checked upstream path (relative, no leading slash) and its filtered query."""

    path: str
    query: list[tuple[str, str]]


def resolve(
    provider: str, routes: Iterable[Route], path: str, raw_path: str, query: Iterable[tuple[str, str]]
) -> Resolved:
    """The upstream path and query for a proxied request; raises ``ApiError`` 400 / 404."""
    segments = _segments(provider, path, raw_path)
    routes = list(routes)
    for route in routes:
        if route.matches(segments):
            return Resolved("/".join(segments), _filtered(provider, route, query))
    raise path_not_proxied(provider, path, [r.template for r in routes])


def _segments(provider: str, path: str, raw_path: str) -> list[str]:
    # The raw path still shows what the client encoded: %2e%2e/ decodes to ../ before routing.
    if any(escape in raw_path.lower() for escape in _ENCODED_ESCAPES):
        raise invalid_path(provider, "percent-encoded dots, slashes, backslashes or colons are not allowed")
    if len(path) > _MAX_PATH_CHARS:
        raise invalid_path(provider, f"the path is longer than {_MAX_PATH_CHARS} characters")
    if path.endswith("/"):
        path = path[:-1]
    segments = path.split("/")
    if any(s in {".", ".."} for s in segments):
        raise invalid_path(provider, "path traversal ('..') is not allowed")
    if path.startswith("/") or "://" in path or ":" in segments[0]:
        raise invalid_path(provider, "absolute paths and URLs are not allowed")
    for segment in segments:
        if not _SAFE_SEGMENT.fullmatch(segment):
            raise invalid_path(provider, f"invalid path segment {segment[:40]!r}")
    return segments


def _filtered(provider: str, route: Route, query: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    kept: dict[str, str] = {}
    for name, value in query:
        pattern = route.params.get(name)
        if pattern is None:
            continue  # not forwarded
        if name in kept:
            raise invalid_query(provider, f"the query parameter {name!r} is given more than once")
        if not pattern.fullmatch(value):
            raise invalid_query(provider, f"invalid value for the query parameter {name!r}")
        kept[name] = value
    return sorted(kept.items())


_ANIME_TYPE = _enum("tv", "movie", "ova", "special", "ona", "music", "cm", "pv", "tv_special")
_RATING = _enum("g", "pg", "pg13", "r17", "r", "rx")
_LIMIT_25 = r"[1-9]|1[0-9]|2[0-5]"
_SEASON_LIST = {
    "filter": _enum("tv", "movie", "ova", "special", "ona", "music"),
    "sfw": FLAG,
    "page": INT,
    "limit": _LIMIT_25,
}

JIKAN_ROUTES: tuple[Route, ...] = (
    Route.of(
        "anime",
        {
            "q": TEXT,
            "page": INT,
            "limit": _LIMIT_25,
            "type": _ANIME_TYPE,
            "score": SCORE,
            "min_score": SCORE,
            "max_score": SCORE,
            "status": _enum("airing", "complete", "upcoming"),
            "rating": _RATING,
            "sfw": FLAG,
            "genres": ID_LIST,
            "genres_exclude": ID_LIST,
            "producers": ID_LIST,
            "order_by": _enum(
                "mal_id",
                "title",
                "start_date",
                "end_date",
                "episodes",
                "score",
                "scored_by",
                "rank",
                "popularity",
                "members",
                "favorites",
            ),
            "sort": _enum("asc", "desc"),
            "letter": r"[A-Za-z]",
            "start_date": DATE,
            "end_date": DATE,
        },
    ),
    Route.of("anime/{id}"),
    Route.of("anime/{id}/full"),
    Route.of("anime/{id}/characters"),
    Route.of("anime/{id}/staff"),
    Route.of("anime/{id}/episodes", {"page": INT}),
    Route.of("anime/{id}/episodes/{id}"),
    Route.of("anime/{id}/pictures"),
    Route.of("anime/{id}/relations"),
    Route.of("anime/{id}/recommendations"),
    Route.of("anime/{id}/themes"),
    Route.of("anime/{id}/external"),
    Route.of("anime/{id}/streaming"),
    Route.of("seasons/now", _SEASON_LIST),
    Route.of("seasons/upcoming", _SEASON_LIST),
    Route.of("seasons/{year}/{season}", _SEASON_LIST),
    Route.of(
        "top/anime",
        {
            "type": _ANIME_TYPE,
            "filter": _enum("airing", "upcoming", "bypopularity", "favorite"),
            "rating": _RATING,
            "sfw": FLAG,
            "page": INT,
            "limit": _LIMIT_25,
        },
    ),
)

_KITSU_FIELDS = r"[A-Za-z]{1,40}(,[A-Za-z]{1,40}){0,39}"
_KITSU_INCLUDE_ONE = _enum(
    "categories",
    "genres",
    "mediaRelationships",
    "mediaRelationships.destination",
    "streamingLinks",
    "animeProductions",
    "animeProductions.producer",
)
_KITSU_PAGE = {"page[limit]": r"[1-9]|1[0-9]|20", "page[offset]": INT}

KITSU_ROUTES: tuple[Route, ...] = (
    Route.of(
        "anime",
        {
            "filter[text]": TEXT,
            "filter[season]": _enum("winter", "spring", "summer", "fall"),
            "filter[seasonYear]": r"(19|20)[0-9]{2}",
            "filter[subtype]": _enum("TV", "movie", "OVA", "ONA", "special", "music"),
            "filter[categories]": r"[a-z0-9-]{1,40}(,[a-z0-9-]{1,40}){0,9}",
            "sort": r"-?(popularityRank|ratingRank|averageRating|startDate|userCount|favoritesCount)",
            "fields[anime]": _KITSU_FIELDS,
            "include": rf"({_KITSU_INCLUDE_ONE})(,({_KITSU_INCLUDE_ONE})){{0,6}}",
            **_KITSU_PAGE,
        },
    ),
    Route.of(
        "anime/{id}",
        {
            "fields[anime]": _KITSU_FIELDS,
            "include": rf"({_KITSU_INCLUDE_ONE})(,({_KITSU_INCLUDE_ONE})){{0,6}}",
        },
    ),
    Route.of("anime/{id}/episodes", {"sort": r"-?number", "fields[episodes]": _KITSU_FIELDS, **_KITSU_PAGE}),
    Route.of("trending/anime", {"limit": r"[1-9]|1[0-9]|20"}),
)
