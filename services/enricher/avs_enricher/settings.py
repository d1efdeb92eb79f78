"""The enricher's settings: where the public anime APIs live, how politely we call them,
and how long a review may wait.

Rate limits are the ones each provider documents (Jikan 3/s and 60/min, AniList 90/min,
AniDB one request per 2 s); Kitsu and AnimeSchedule document none, so the defaults are
polite. They are global across processes (Redis) and, by default, share their Redis keys
with the API's third-party proxy (``AVS_PROXY_KEY_PREFIX`` + ``rl:``): the providers count
requests per egress address, so the proxy and the enricher spend one budget.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from avs_shared.settings import ServiceSettings

ProviderName = Literal["jikan", "anilist", "kitsu", "anidb", "animeschedule"]
ALL_PROVIDERS: tuple[ProviderName, ...] = ("jikan", "anilist", "kitsu", "anidb", "animeschedule")


class EnricherSettings(ServiceSettings):
    """Settings of ``avs_enricher`` (environment variables ``AVS_ENRICHER_*``)."""

    service_name: str = "avs-enricher"

    # Upstream bases (tests and `avs run` demos point them at loopback fakes).
    enricher_jikan_base_url: str = Field(default="https://api.jikan.moe/v4", pattern=r"^https?://")
    enricher_anilist_url: str = Field(default="https://graphql.anilist.co", pattern=r"^https?://")
    enricher_kitsu_base_url: str = Field(default="https://kitsu.app/api/edge", pattern=r"^https?://")
    enricher_anidb_url: str = Field(default="http://api.anidb.net:9001/httpapi", pattern=r"^https?://")
    enricher_animeschedule_base_url: str = Field(
        default="https://animeschedule.net/api/v3", pattern=r"^https?://"
    )
    # AniDB answers only registered clients (name and version); empty: AniDB is skipped.
    enricher_anidb_client: str = Field(default="", pattern=r"^[a-z0-9]*$")
    enricher_anidb_client_version: int = Field(default=1, ge=1)
    # AnimeSchedule's application token (Bearer); unset: no Authorization header.
    enricher_animeschedule_token: str | None = None
    enricher_providers: list[ProviderName] = Field(default_factory=lambda: list(ALL_PROVIDERS))
    enricher_user_agent: str = "anime-vector-service/0.1 (enricher)"

    # Each HTTP request: timeout, attempts (tenacity), backoff base, and how long it may wait
    # for a free rate-limit slot or a Retry-After before the provider counts as failed.
    enricher_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    enricher_max_attempts: int = Field(default=3, ge=1, le=10)
    enricher_retry_backoff_seconds: float = Field(default=1.0, ge=0, le=60)
    enricher_max_wait_seconds: float = Field(default=60.0, ge=0, le=600)
    enricher_max_response_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    enricher_max_episode_pages: int = Field(default=20, ge=1, le=200)
    # The longest one provider may take for one anime (all its requests, retries and waits).
    enricher_provider_deadline_seconds: float = Field(default=240.0, gt=0, le=3600)

    # The HTTP response cache in Redis (method + URL + body), and the rate-limit keys.
    enricher_cache_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)
    enricher_cache_key_prefix: str = "avs:enricher:"
    enricher_rate_limit_key_prefix: str = "avs:proxy:rl:"
    enricher_jikan_per_second: int = Field(default=3, ge=1)
    enricher_jikan_per_minute: int = Field(default=60, ge=1)
    enricher_anilist_per_minute: int = Field(default=90, ge=1)  # 30 while AniList is degraded
    enricher_kitsu_per_second: int = Field(default=2, ge=1)
    enricher_kitsu_per_minute: int = Field(default=60, ge=1)
    enricher_anidb_seconds_per_request: float = Field(default=2.0, gt=0)
    enricher_animeschedule_per_second: int = Field(default=1, ge=1)
    enricher_animeschedule_per_minute: int = Field(default=30, ge=1)

    # The review pause: how long a review may wait, and the longest silence between task
    # heartbeats (the review side sends SendTaskHeartbeat for pending tasks).
    enricher_review_timeout_seconds: int = Field(default=7 * 24 * 3600, ge=1, le=365 * 24 * 3600)
    enricher_review_heartbeat_seconds: int = Field(default=2 * 24 * 3600, ge=1, le=365 * 24 * 3600)

    @model_validator(mode="after")
    def _heartbeat_below_timeout(self) -> Self:
        if self.enricher_review_heartbeat_seconds >= self.enricher_review_timeout_seconds:
            raise ValueError(
                "enricher_review_heartbeat_seconds must be below enricher_review_timeout_seconds "
                "(Step Functions requires HeartbeatSeconds < TimeoutSeconds)"
            )
        return self
