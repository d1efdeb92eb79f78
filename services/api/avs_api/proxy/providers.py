"""The proxied providers: where they live, how long their answers are cached, and their limits.

Limits are those each provider documents (Jikan 3/s and 60/min; AniList 90/min, 30/min
while it is degraded: lower ``AVS_PROXY_ANILIST_PER_MINUTE`` then); Kitsu documents
none, so the default is a polite 2/s and 60/min. They are global across our processes
(Redis), because the providers count requests per egress address, not per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from avs_api.proxy.allowlist import JIKAN_ROUTES, KITSU_ROUTES, Route
from avs_shared.adapters.redis_limits import Window

if TYPE_CHECKING:
    from avs_api.settings import ApiSettings


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str
    ttl_s: int
    windows: tuple[Window, ...]
    routes: tuple[Route, ...]
    accept: str


def providers(settings: ApiSettings) -> dict[str, Provider]:
    return {
        "jikan": Provider(
            "jikan",
            settings.proxy_jikan_base_url.rstrip("/"),
            settings.proxy_jikan_ttl_seconds,
            (Window(settings.proxy_jikan_per_second, 1.0), Window(settings.proxy_jikan_per_minute, 60.0)),
            JIKAN_ROUTES,
            "application/json",
        ),
        "anilist": Provider(
            "anilist",
            settings.proxy_anilist_url,
            settings.proxy_anilist_ttl_seconds,
            (Window(settings.proxy_anilist_per_minute, 60.0),),
            (),
            "application/json",
        ),
        "kitsu": Provider(
            "kitsu",
            settings.proxy_kitsu_base_url.rstrip("/"),
            settings.proxy_kitsu_ttl_seconds,
            (Window(settings.proxy_kitsu_per_second, 1.0), Window(settings.proxy_kitsu_per_minute, 60.0)),
            KITSU_ROUTES,
            "application/vnd.api+json",
        ),
    }
