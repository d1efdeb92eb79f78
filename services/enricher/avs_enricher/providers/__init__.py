"""Clients of the public anime APIs, built from :class:`~avs_enricher.settings.EnricherSettings`."""

from __future__ import annotations

from avs_enricher.providers.anidb import AniDBClient
from avs_enricher.providers.anilist import AniListClient
from avs_enricher.providers.animeschedule import AnimeScheduleClient
from avs_enricher.providers.base import AnimeProvider, ProviderData, Subject
from avs_enricher.providers.http import (
    HttpOptions,
    ProviderError,
    ProviderHttp,
    ProviderLimits,
    ProviderNotFound,
)
from avs_enricher.providers.ids import ProviderIds, provider_ids
from avs_enricher.providers.jikan import JikanClient
from avs_enricher.providers.kitsu import KitsuClient
from avs_enricher.settings import EnricherSettings
from avs_shared.adapters.redis_limits import Window

__all__ = [
    "AnimeProvider",
    "HttpOptions",
    "ProviderData",
    "ProviderError",
    "ProviderHttp",
    "ProviderIds",
    "ProviderLimits",
    "ProviderNotFound",
    "Subject",
    "build_providers",
    "http_options",
    "provider_ids",
    "provider_limits",
]


def provider_limits(settings: EnricherSettings) -> dict[str, ProviderLimits]:
    """Each provider's rate-limit key and windows (keys and window lengths match the API proxy's)."""
    s = settings
    return {
        "jikan": ProviderLimits(
            "jikan", (Window(s.enricher_jikan_per_second, 1.0), Window(s.enricher_jikan_per_minute, 60.0))
        ),
        "anilist": ProviderLimits("anilist", (Window(s.enricher_anilist_per_minute, 60.0),)),
        "kitsu": ProviderLimits(
            "kitsu", (Window(s.enricher_kitsu_per_second, 1.0), Window(s.enricher_kitsu_per_minute, 60.0))
        ),
        "anidb": ProviderLimits("anidb", (Window(1, s.enricher_anidb_seconds_per_request),)),
        "animeschedule": ProviderLimits(
            "animeschedule",
            (
                Window(s.enricher_animeschedule_per_second, 1.0),
                Window(s.enricher_animeschedule_per_minute, 60.0),
            ),
        ),
    }


def http_options(settings: EnricherSettings) -> HttpOptions:
    return HttpOptions(
        timeout_s=settings.enricher_timeout_seconds,
        max_attempts=settings.enricher_max_attempts,
        backoff_s=settings.enricher_retry_backoff_seconds,
        max_wait_s=settings.enricher_max_wait_seconds,
        max_response_bytes=settings.enricher_max_response_bytes,
        cache_ttl_s=settings.enricher_cache_ttl_seconds,
        user_agent=settings.enricher_user_agent,
    )


def build_providers(settings: EnricherSettings, http: ProviderHttp) -> list[AnimeProvider]:
    """The enabled providers (``AVS_ENRICHER_PROVIDERS``), in precedence order."""
    s, limits, pages = settings, provider_limits(settings), settings.enricher_max_episode_pages
    every: dict[str, AnimeProvider] = {
        "jikan": JikanClient(http, limits["jikan"], s.enricher_jikan_base_url, max_pages=pages),
        "anilist": AniListClient(http, limits["anilist"], s.enricher_anilist_url),
        "kitsu": KitsuClient(http, limits["kitsu"], s.enricher_kitsu_base_url, max_pages=pages),
        "anidb": AniDBClient(
            http,
            limits["anidb"],
            s.enricher_anidb_url,
            client=s.enricher_anidb_client,
            version=s.enricher_anidb_client_version,
        ),
        "animeschedule": AnimeScheduleClient(
            http,
            limits["animeschedule"],
            s.enricher_animeschedule_base_url,
            token=s.enricher_animeschedule_token,
        ),
    }
    return [every[name] for name in every if name in s.enricher_providers]
