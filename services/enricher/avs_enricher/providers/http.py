"""One HTTP path for every provider: Redis cache → shared rate limit → aiohttp → classified answer.

Order matters: a cached answer (24 h, keyed by method, URL and body) costs no slot of the
provider's budget. A miss takes a slot from the provider's windows in Redis (global
across processes), waiting up to ``max_wait_s`` for one. Transient failures (timeouts,
connection errors, 5xx, 429) are retried by tenacity with exponential backoff and
jitter; a 429 (or a 503 with ``Retry-After``) first blocks the provider in Redis for its
``Retry-After`` so that every process pauses, and the retry then waits for that block
to end. A Retry-After longer than ``max_wait_s`` gives up at once: the provider counts
as failed for this anime rather than holding the message for an hour. Redirects are not
followed (a base URL must name the API itself).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import NoReturn, Self

import aiohttp
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from avs_shared.adapters.redis_limits import RedisLimits, Window
from avs_shared.http_headers import rate_limit_reset_s, retry_after_s
from avs_shared.ports.storage import Cache
from avs_shared.runtime.metrics import record_provider_call, record_throttle

log = structlog.get_logger(__name__)

_MAX_BLOCK_S = 24 * 3600.0  # never trust a Retry-After beyond a day
_DEFAULT_BLOCK_S = 60.0  # a 429 without a usable Retry-After
_BANNED_BLOCK_S = 3600.0  # AniDB's ban (HTTP 555): stop calling it for an hour


class ProviderError(Exception):
    """A provider call failed; ``reason`` is short and names what happened.

    Attributes
    ----------
    transient:
        A retry may succeed (timeouts, 5xx, 429); tenacity retries only these.
    retry_after_s:
        What the provider asked us to wait, when it said.
    """

    def __init__(
        self, provider: str, reason: str, *, transient: bool = False, retry_after_s: float | None = None
    ) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
        self.transient = transient
        self.retry_after_s = retry_after_s


class ProviderNotFound(ProviderError):
    """The provider has no such anime (HTTP 404 or an empty answer)."""


@dataclass(frozen=True)
class ProviderLimits:
    """A provider's name (its rate-limit key) and its windows."""

    name: str
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class HttpOptions:
    timeout_s: float = 15.0
    max_attempts: int = 3
    backoff_s: float = 1.0
    max_wait_s: float = 60.0
    max_response_bytes: int = 8 * 1024 * 1024
    cache_ttl_s: int = 24 * 3600
    user_agent: str = "anime-vector-service/0.1 (enricher)"


@dataclass
class HttpStats:
    """Counters a test (or a log line) can read."""

    cache_hits: int = 0
    requests: int = 0
    retries: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def cache_key(method: str, url: str, body: bytes | None) -> str:
    """``enricher-http:<sha256 of method, URL and body>`` (the cache adds its own key prefix)."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), url.encode(), body or b""):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f"enricher-http:{digest.hexdigest()}"


class ProviderHttp:
    """The shared HTTP client of the provider clients.

    Use as ``async with ProviderHttp(...) as http`` (the aiohttp session needs a loop);
    :meth:`close` is the same as leaving the block.
    """

    def __init__(self, *, cache: Cache, limits: RedisLimits, options: HttpOptions) -> None:
        self._cache = cache
        self._limits = limits
        self._options = options
        self._session: aiohttp.ClientSession | None = None
        self.stats = HttpStats()

    @property
    def options(self) -> HttpOptions:
        return self._options

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = self._options.timeout_s
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0)),
                connector=aiohttp.TCPConnector(limit=32, ttl_dns_cache=300),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._session

    async def fetch(
        self,
        provider: ProviderLimits,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        cacheable: Callable[[bytes], bool] | None = None,
    ) -> bytes:
        """The body of a 200 answer, from the cache or the provider.

        Raises
        ------
        ProviderNotFound
            HTTP 404.
        ProviderError
            Anything else that is not a 200 after the retries (``reason`` says what).
        """
        key = cache_key(method, url, body)
        cached = await self._cache.get(key)
        if cached is not None:
            self.stats.cache_hits += 1
            return cached
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._options.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, ProviderError) and exc.transient),
            reraise=True,
            before_sleep=self._before_sleep,
        )
        async for attempt in retrying:
            with attempt:
                content = await self._once(provider, method, url, body, headers)
        if cacheable is None or cacheable(content):
            await self._cache.set(key, content, ttl_s=self._options.cache_ttl_s)
        return content

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, ProviderError) and exc.retry_after_s is not None:
            return 0.0  # the provider is blocked in Redis; _slot waits for the block to end
        base = self._options.backoff_s * 2 ** (state.attempt_number - 1)
        return base * random.uniform(0.5, 1.0)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome is not None else None
        log.info("provider.retry", attempt=state.attempt_number, error=str(exc))

    async def _once(
        self,
        provider: ProviderLimits,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> bytes:
        await self._slot(provider)
        sent = {"User-Agent": self._options.user_agent, **(headers or {})}
        self.stats.requests += 1
        try:
            async with self._client().request(
                method, url, data=body, headers=sent, allow_redirects=False
            ) as response:
                status = response.status
                self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
                record_provider_call(provider.name, status)
                await self._observe_budget(provider, response.headers)
                if status == 200:
                    return await self._read(provider, response)
                await self._reject(provider, status, response.headers)
        except TimeoutError as exc:
            record_provider_call(provider.name, "timeout")
            raise ProviderError(
                provider.name, f"timed out after {self._options.timeout_s:g}s", transient=True
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            record_provider_call(provider.name, "error")
            raise ProviderError(
                provider.name, f"unreachable ({type(exc).__name__}: {exc})", transient=True
            ) from exc

    async def _read(self, provider: ProviderLimits, response: aiohttp.ClientResponse) -> bytes:
        limit = self._options.max_response_bytes
        if (response.content_length or 0) > limit:
            raise ProviderError(provider.name, f"answer larger than {limit} bytes")
        content = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            content += chunk
            if len(content) > limit:
                raise ProviderError(provider.name, f"answer larger than {limit} bytes")
        return bytes(content)

    async def _reject(self, provider: ProviderLimits, status: int, headers: Mapping[str, str]) -> NoReturn:
        wait = retry_after_s(headers)
        if status == 429 or (status == 503 and wait is not None):
            block = min(wait or _DEFAULT_BLOCK_S, _MAX_BLOCK_S)
            await self._limits.block(provider.name, block)
            record_throttle(provider.name, "upstream")
            log.warning("provider.rate_limited", provider=provider.name, status=status, blocked_for_s=block)
            reason = f"rate limited (HTTP {status}, Retry-After {block:g}s)"
            if block > self._options.max_wait_s:
                raise ProviderError(provider.name, reason, retry_after_s=block)
            raise ProviderError(provider.name, reason, transient=True, retry_after_s=block)
        if status == 555:  # AniDB: the client is banned for a while
            await self._limits.block(provider.name, _BANNED_BLOCK_S)
            raise ProviderError(
                provider.name, "banned by the provider (HTTP 555)", retry_after_s=_BANNED_BLOCK_S
            )
        if status == 404:
            raise ProviderNotFound(provider.name, "not found (HTTP 404)")
        if 300 <= status < 400:  # redirects are not followed: a base URL must name the API itself
            where = headers.get("Location", "?")
            raise ProviderError(
                provider.name, f"redirected (HTTP {status}) to {where}; fix the base URL setting"
            )
        if status >= 500:
            raise ProviderError(provider.name, f"server error (HTTP {status})", transient=True)
        raise ProviderError(provider.name, f"refused (HTTP {status})")

    async def _observe_budget(self, provider: ProviderLimits, headers: Mapping[str, str]) -> None:
        """AniList (and others) announce an empty budget before they answer 429: pause then."""
        if headers.get("X-RateLimit-Remaining", "").strip() != "0":
            return
        wait = retry_after_s(headers) or rate_limit_reset_s(headers) or _DEFAULT_BLOCK_S
        await self._limits.block(provider.name, min(wait, _MAX_BLOCK_S))
        log.info("provider.budget_spent", provider=provider.name, blocked_for_s=wait)

    async def block(self, provider: ProviderLimits, seconds: float) -> None:
        """Pause every process's calls to ``provider`` (a ban reported in a 200 body)."""
        await self._limits.block(provider.name, min(seconds, _MAX_BLOCK_S))

    async def _slot(self, provider: ProviderLimits) -> None:
        """Take a slot of the provider's budget, waiting up to ``max_wait_s`` for one."""
        deadline = time.monotonic() + self._options.max_wait_s
        while True:
            decision = await self._limits.acquire(provider.name, provider.windows)
            if decision.allowed:
                return
            record_throttle(provider.name, "local")
            if time.monotonic() + decision.retry_after_s > deadline:
                what = "blocked after a Retry-After" if decision.blocked else "no free rate-limit slot"
                raise ProviderError(
                    provider.name,
                    f"{what} within {self._options.max_wait_s:g}s (next in {decision.retry_after_s:.1f}s)",
                    retry_after_s=decision.retry_after_s,
                )
            # A little jitter so the waiters of many processes do not collide again.
            await asyncio.sleep(decision.retry_after_s + random.uniform(0.0, 0.05))
