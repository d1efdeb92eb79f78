"""Redis implementation of :class:`avs_shared.ports.storage.Cache` (redis.asyncio).

The cache is an optimisation, never a dependency: every operation degrades to a
miss (``get`` → None) or a no-op (``set``, ``delete``) with a warning when Redis is
unreachable, and never raises. Socket timeouts are short and redis-py's own
retries are off, so a dead Redis costs at most one connect timeout; after a
failure the cache stays "down" for ``down_for_s`` seconds and answers at once
without touching the network, then tries again.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from avs_shared.runtime.metrics import record_cache

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)


class RedisCache:
    """A byte cache with TTLs that behaves like an empty cache while Redis is down.

    Parameters
    ----------
    url:
        ``redis://host:port/db``.
    timeout_s:
        Connect and per-command socket timeout.
    down_for_s:
        After a failure, skip Redis for this long (a simple circuit breaker).
    key_prefix:
        Prepended to every key (lets tests and tenants share one Redis).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.25,
        down_for_s: float = 5.0,
        key_prefix: str = "",
    ) -> None:
        self._where = _redacted(url)
        self._down_for_s = down_for_s
        self._prefix = key_prefix
        self._down_until = 0.0
        # No I/O here: redis-py connects on the first command.
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_error=[],
            health_check_interval=0,
        )

    @property
    def available(self) -> bool:
        """False while the breaker is open after a failure."""
        return time.monotonic() >= self._down_until

    async def get(self, key: str) -> bytes | None:
        cache = key.split(":", 1)[0]  # "anime:<id>" -> "anime": the metric's cache name
        if not self.available:
            record_cache(cache, "error")
            return None
        try:
            value = await self._redis.get(self._prefix + key)
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            record_cache(cache, "error")
            return None
        self._recovered()
        if value is None:
            record_cache(cache, "miss")
            return None
        record_cache(cache, "hit")
        return value if isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        if not self.available:
            return
        try:
            await self._redis.set(self._prefix + key, value, ex=max(int(ttl_s), 1))
        except (RedisError, OSError) as exc:
            self._failed("set", exc)
            return
        self._recovered()

    async def delete(self, *keys: str) -> None:
        if not keys or not self.available:
            return
        try:
            await self._redis.delete(*(self._prefix + k for k in keys))
        except (RedisError, OSError) as exc:
            self._failed("delete", exc)
            return
        self._recovered()

    async def ping(self) -> bool:
        """True if Redis answers now (ignores the breaker; for health checks)."""
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        try:
            await self._redis.aclose()
        except (RedisError, OSError):
            pass

    def _failed(self, op: str, exc: BaseException) -> None:
        was_up = self._down_until == 0.0
        self._down_until = time.monotonic() + self._down_for_s
        if was_up:
            log.warning(
                "cache.unavailable",
                op=op,
                error=f"{type(exc).__name__}: {exc}",
                url=self._where,
                retry_in_s=self._down_for_s,
            )

    def _recovered(self) -> None:
        if self._down_until != 0.0:
            self._down_until = 0.0
            log.info("cache.recovered", url=self._where)


def _redacted(url: str) -> str:
    """``host:port/db`` of a Redis URL, without credentials (for logs)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path}"
