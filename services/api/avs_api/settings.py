"""Settings of the API service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from avs_api.auth import ApiKeyRecord
from avs_shared.settings import ServiceSettings


class ApiSettings(ServiceSettings):
    """``AVS_API_HOST`` / ``AVS_API_PORT`` say where the API listens (loopback by default)."""

    service_name: str = "avs-api"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    ready_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    index_open_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # The API's query embedder in a worker process of its own (ProcessEmbedder) instead of a
    # thread of this one: the thread took the GIL back from the busy event loop twice per
    # query (bench/api.py, hybrid search at concurrency 16, side by side: 1.16x and 1.19x
    # the requests/s). `avs run` shares its one in-process embedder instead.
    query_embedding_process: bool = True
    # CORS is closed unless origins are listed (JSON list, e.g. '["https://app.example"]').
    cors_origins: list[str] = Field(default_factory=list)
    # Lookups, /similar and curated lists (avs_api.lookups, avs_api.lists).
    # Redis `anime:<id>` (full entries, deleted on commit; the TTL is a safety net).
    entry_cache_ttl_seconds: int = Field(default=86_400, ge=60, le=7 * 86_400)
    # Cache-Control max-age of /anime/{id}: an edge cache cannot see commits, so keep it short.
    entry_max_age_seconds: int = Field(default=300, ge=0, le=86_400)
    # Redis response caches (and max-age) of /anime/{id}/similar and /popular, /top-rated.
    similar_cache_ttl_seconds: int = Field(default=900, ge=1, le=3600)
    lists_cache_ttl_seconds: int = Field(default=600, ge=1, le=3600)
    # Precomputed lists: how many entries each holds, how long Redis keeps one (longer than
    # the 12 h refresh, so a failed run leaves the previous list), and the minimum
    # popularity (members) an anime needs to be top-rated (a proxy for enough scorers).
    curated_list_size: int = Field(default=500, ge=1, le=1000)
    curated_list_ttl_seconds: int = Field(default=36 * 3600, ge=3600)
    top_rated_min_popularity: int = Field(default=1000, ge=0)
    # Third-party proxy (avs_api.proxy): upstream bases (tests point them at loopback fakes),
    # timeout, Redis cache TTLs, and per-provider limits global across processes (Redis).
    proxy_jikan_base_url: str = Field(default="https://api.jikan.moe/v4", pattern=r"^https?://")
    proxy_anilist_url: str = Field(default="https://graphql.anilist.co", pattern=r"^https?://")
    proxy_kitsu_base_url: str = Field(default="https://kitsu.app/api/edge", pattern=r"^https?://")
    proxy_user_agent: str = "anime-vector-service/0.1 (third-party proxy)"
    proxy_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    proxy_max_wait_seconds: float = Field(default=2.0, ge=0, le=30)  # for a free upstream slot
    proxy_jikan_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=86_400)
    proxy_anilist_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    proxy_kitsu_ttl_seconds: int = Field(default=12 * 3600, ge=60, le=86_400)
    proxy_jikan_per_second: int = Field(default=3, ge=1)
    proxy_jikan_per_minute: int = Field(default=60, ge=1)
    proxy_anilist_per_minute: int = Field(default=90, ge=1)  # 30 while AniList is degraded
    proxy_kitsu_per_second: int = Field(default=2, ge=1)
    proxy_kitsu_per_minute: int = Field(default=60, ge=1)
    proxy_anilist_max_body_bytes: int = Field(default=16_384, ge=256, le=1_048_576)
    proxy_anilist_max_query_chars: int = Field(default=8_000, ge=64, le=100_000)
    proxy_max_response_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    proxy_key_prefix: str = "avs:proxy:"
    # Access control (avs_api.auth): hashed key records, never plaintext, as JSON
    # '[{"name": "alice", "role": "reviewer", "sha256": "<hex>"}]', and/or a Secrets
    # Manager secret id holding the same JSON (read once, on the first check).
    api_keys: list[ApiKeyRecord] = Field(default_factory=list)
    api_keys_secret_id: str | None = None
    # Per-client rate limiting (avs_api.ratelimit): a token bucket per API key name or IP.
    rate_limit_enabled: bool = True
    rate_limit_per_minute: int = Field(default=120, ge=1)
    rate_limit_burst: int = Field(default=120, ge=1)
    rate_limit_exempt_paths: list[str] = Field(default_factory=lambda: ["/health", "/ready"])
    rate_limit_trusted_proxies: int = Field(default=0, ge=0, le=10)  # X-Forwarded-For hops to trust
    rate_limit_key_prefix: str = "avs:rl:"
    # Agentic search (avs_api.agentic): the planner that turns ?q= into a search plan. "rules"
    # is built in; "bedrock" (Converse API; endpoint from AWS_ENDPOINT_URL_BEDROCK_RUNTIME) and
    # "openai" (any OpenAI-compatible /chat/completions; base URL ends in /v1) fall back to the
    # rules when the model fails, answers nonsense or takes longer than the timeout.
    agentic_planner: Literal["rules", "bedrock", "openai"] = "rules"
    bedrock_model_id: str = Field(default="qwen.qwen3-32b-v1:0", min_length=1)
    openai_base_url: str | None = Field(default=None, pattern=r"^https?://")
    openai_api_key: SecretStr | None = None
    openai_model: str | None = Field(default=None, min_length=1)
    planner_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # The review page (avs_api.review): the browser session is a signed cookie. Set the secret
    # (16+ characters, random) wherever more than one API process serves the page or sessions
    # should survive a restart; unset = a random secret per process. Secure cookies are sent
    # over HTTPS only (always on for HTTPS requests; force it behind a TLS-terminating proxy).
    review_session_secret: SecretStr | None = Field(default=None, min_length=16)
    review_session_ttl_seconds: int = Field(default=8 * 3600, ge=300, le=7 * 86_400)
    review_cookie_secure: bool = False
    review_page_size: int = Field(default=50, ge=1, le=200)  # tasks per list page
    review_max_form_bytes: int = Field(default=8 * 1024 * 1024, ge=65_536)  # largest edited entry form
    # A decision interrupted midway (a crashed process) blocks its task this long, then
    # another reviewer may take the task over.
    review_claim_stale_seconds: int = Field(default=300, ge=30, le=86_400)
    # Run the API's queue consumer (the review intake) inside the API process: for the API in
    # a container of its own (`python -m avs_api`); `avs run` runs every consumer itself.
    api_run_workers: bool = False
