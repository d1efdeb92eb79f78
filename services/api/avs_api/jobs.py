"""The API's cron jobs, for the registry of the all-in-one runner (``avs_cli.registry``).

``avs_api.bootstrap`` re-exports :func:`cron_jobs`, where the registry looks for it.
"""

from __future__ import annotations

from datetime import datetime

from avs_api.lists import ListConfig, refresh_curated_lists
from avs_api.settings import ApiSettings
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.runtime.components import shared_embedder, shared_vector_index
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.cron import CronJob
from avs_shared.settings import load_settings
from avs_shared.topology import S_CURATED_LISTS


def _api_settings(ctx: RunContext) -> ApiSettings:
    # The runner's settings are the common ones; the API's own fields come from the
    # environment, which the CLI has filled (the API server reads the same).
    if isinstance(ctx.settings, ApiSettings):
        return ctx.settings
    return load_settings(ApiSettings)


def cron_jobs(ctx: RunContext) -> dict[str, CronJob]:
    """``curated-lists-refresh``: recompute ``/popular`` and ``/top-rated`` into Redis.

    Uses the process's shared vector index and embedder (the embedded shard has one
    owner); the Redis client is closed with ``ctx.resources``. No I/O here.
    """
    settings = _api_settings(ctx)
    config = ListConfig.from_settings(settings)
    index = shared_vector_index(ctx)
    embedder = shared_embedder(ctx)

    def build_cache() -> RedisCache:
        cache = RedisCache(settings.redis_url)
        ctx.resources.push_async_callback(cache.close)
        return cache

    cache = ctx.component("api-curated-lists-cache", build_cache)

    async def refresh_lists(due: datetime) -> object:  # generated_at is when it ran, not ``due``
        await index.ensure_collection(embedder.model_name, embedder.dimension)
        return await refresh_curated_lists(index=index, cache=cache, config=config)

    return {S_CURATED_LISTS: refresh_lists}
