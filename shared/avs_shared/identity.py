"""Identity of an anime: canonical source URLs and the deterministic ``anime_id``.

An offline-database record is identified by its ``sources`` (provider page URLs).
The same page can be written several ways across releases (``http``/``https``,
``www.``, a trailing slash, Kitsu's move from ``kitsu.io`` to ``kitsu.app``), so every
comparison of sources goes through :func:`canonical_source` first.

A new anime found by the sync gets a deterministic id (DATA.md): a UUID5 over its
*primary* canonical source, the first by provider priority (MyAnimeList, AniList,
Kitsu, AniDB, ...) and then alphabetically. A retried sync therefore names the same
anime the same way, so its processing lock is the same; MyAnimeList first keeps the
id stable when a release adds a source from a less central provider.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from urllib.parse import urlsplit

ANIME_ID_NAMESPACE = uuid.UUID("8f1e6a57-0c7b-4b8e-9d7e-2a4e1f3c6b90")

_HOST_ALIASES = {"kitsu.io": "kitsu.app"}
_PROVIDER_PRIORITY = (
    "myanimelist.net",
    "anilist.co",
    "kitsu.app",
    "anidb.net",
    "anisearch.com",
    "livechart.me",
    "anime-planet.com",
    "notify.moe",
    "simkl.com",
    "animecountdown.com",
    "animenewsnetwork.com",
)
_RANK = {host: rank for rank, host in enumerate(_PROVIDER_PRIORITY)}


def canonical_source(url: str) -> str:
    """The comparable form of a provider URL.

    ``https``, lower-case host without ``www.``, host aliases resolved
    (``kitsu.io`` → ``kitsu.app``), no trailing slash, no fragment. The path and the
    query keep their case and content (some providers' ids are case-sensitive, and
    Anime News Network's is the query: ``anime.php?id=1``).

    Raises
    ------
    ValueError
        ``url`` has no host (it is not an absolute URL).
    """
    text = url.strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"source {url!r} is not an absolute URL")
    host = host.removeprefix("www.")
    host = _HOST_ALIASES.get(host, host)
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"https://{host}{port}{path}{query}"


def canonical_sources(urls: Iterable[str]) -> list[str]:
    """Canonical forms of ``urls``, duplicates removed, in primary-first order."""
    unique = {canonical_source(u) for u in urls}
    return sorted(unique, key=_priority_key)


def provider_of(url: str) -> str:
    """The provider host of a source URL (``myanimelist.net``, ``kitsu.app``, ...)."""
    return urlsplit(canonical_source(url)).hostname or ""


def primary_source(urls: Iterable[str]) -> str:
    """The source an id is derived from: the first by provider priority, then alphabetically.

    Raises
    ------
    ValueError
        ``urls`` is empty.
    """
    ordered = canonical_sources(urls)
    if not ordered:
        raise ValueError("an anime without sources has no identity")
    return ordered[0]


def anime_id_for_sources(urls: Iterable[str]) -> str:
    """The deterministic ``anime_id`` (a UUID string) of a new anime with these sources."""
    return str(uuid.uuid5(ANIME_ID_NAMESPACE, primary_source(urls)))


def _priority_key(url: str) -> tuple[int, str]:
    host = urlsplit(url).hostname or ""
    return _RANK.get(host, len(_RANK)), url
