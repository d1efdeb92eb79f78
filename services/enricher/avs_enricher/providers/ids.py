"""Provider ids from an anime's ``sources`` (the offline database's provider page URLs).

``https://myanimelist.net/anime/1`` → MAL id ``1``; ``https://kitsu.app/anime/cowboy-bebop``
→ Kitsu slug ``cowboy-bebop`` (numbers and slugs both identify a Kitsu anime). URLs are
compared in their canonical form (:func:`avs_shared.identity.canonical_source`), so
``http://``, ``www.`` and ``kitsu.io`` spellings are the same page. When a merged record
carries two pages of one provider, the first in ``sources`` order wins: deterministic,
and the offline database sorts its sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from avs_shared.identity import canonical_source

_PATTERNS: dict[str, re.Pattern[str]] = {
    "mal": re.compile(r"^https://myanimelist\.net/anime/(\d+)(?:/|$)"),
    "anilist": re.compile(r"^https://anilist\.co/anime/(\d+)(?:/|$)"),
    "kitsu": re.compile(r"^https://kitsu\.app/anime/([A-Za-z0-9_-]+)$"),
    "anidb": re.compile(r"^https://anidb\.net/anime/(\d+)$"),
    "animeplanet": re.compile(r"^https://anime-planet\.com/anime/([A-Za-z0-9_-]+)$"),
    "anisearch": re.compile(r"^https://anisearch\.com/anime/(\d+)$"),
    "livechart": re.compile(r"^https://livechart\.me/anime/(\d+)$"),
    "notify": re.compile(r"^https://notify\.moe/anime/([A-Za-z0-9_-]+)$"),
}


@dataclass(frozen=True)
class ProviderIds:
    """The ids an anime has at each provider (None: no page of that provider in ``sources``)."""

    mal: int | None = None
    anilist: int | None = None
    kitsu: str | None = None
    anidb: int | None = None
    animeplanet: str | None = None
    anisearch: int | None = None
    livechart: int | None = None
    notify: str | None = None

    def as_dict(self) -> dict[str, int | str]:
        return {k: v for k, v in vars(self).items() if v is not None}


def provider_ids(sources: Iterable[str]) -> ProviderIds:
    """The provider ids named by ``sources``; URLs that are not provider pages are ignored."""
    found: dict[str, int | str] = {}
    for url in sources:
        try:
            canonical = canonical_source(url)
        except ValueError:
            continue
        for provider, pattern in _PATTERNS.items():
            match = pattern.match(canonical)
            if match and provider not in found:
                value = match[1]
                found[provider] = value if provider in {"kitsu", "animeplanet", "notify"} else int(value)
    return ProviderIds(**found)  # type: ignore[arg-type]
