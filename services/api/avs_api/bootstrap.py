"""The API's composition root: builds the adapters from settings, and its readiness checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from avs_api.readiness import ReadinessCheck
from avs_api.settings import ApiSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.topology import T_ENRICHED


@dataclass(frozen=True)
class ApiResources:
    """Everything the routes use, opened in the app's lifespan and closed with it."""

    settings: ApiSettings
    aws: AwsClients
    cache: RedisCache


@asynccontextmanager
async def open_resources(settings: ApiSettings) -> AsyncIterator[ApiResources]:
    """Create the clients (they connect lazily, so this does no network I/O) and close them after."""
    aws = AwsClients(settings)
    cache = RedisCache(settings.redis_url, timeout_s=min(settings.ready_timeout_seconds, 1.0))
    try:
        yield ApiResources(settings=settings, aws=aws, cache=cache)
    finally:
        await cache.close()
        await aws.close()


def readiness_checks(resources: ApiResources) -> list[ReadinessCheck]:
    """The dependencies ``GET /ready`` checks.

    Extension point: the vector index check (``vector-index``) is appended here when
    the index adapter is wired into the API.
    """

    async def dynamodb() -> None:
        ddb = await resources.aws.client("dynamodb")
        await ddb.describe_table(TableName=T_ENRICHED)

    async def redis() -> None:
        if not await resources.cache.ping():
            raise ConnectionError(f"no PONG from Redis at {_redacted(resources.settings.redis_url)}")

    return [ReadinessCheck("dynamodb", dynamodb), ReadinessCheck("redis", redis)]


def _redacted(url: str) -> str:
    """A Redis URL without its password."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url
