"""The proxy: allowlist → Redis cache → provider rate limit → upstream → classified answer.

Order matters: a cached answer is served even while a provider is rate limited or
blocked; only a miss spends a slot of the provider's (global) budget. A request that
finds no free slot waits up to ``proxy_max_wait_seconds`` for one, then gets 503 with
``Retry-After``. An upstream 429 blocks the provider in Redis for its ``Retry-After``
(every process stops calling it) and answers 429; so does an upstream that reports
``X-RateLimit-Remaining: 0`` (blocked until its reset), before it has to say 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlencode

import structlog

from avs_api.proxy.allowlist import resolve
from avs_api.proxy.cache import CachedAnswer, cache_key, decode, encode
from avs_api.proxy.errors import (
    invalid_graphql,
    upstream_busy,
    upstream_error,
    upstream_rate_limited,
    upstream_rejected,
)
from avs_api.proxy.graphql import GraphQLRejected, check_query_only
from avs_api.proxy.providers import Provider, providers
from avs_api.proxy.upstream import UpstreamClient, UpstreamResponse
from avs_shared.adapters.redis_limits import RedisLimits
from avs_shared.http_headers import rate_limit_reset_s, retry_after_s
from avs_shared.ports.storage import Cache

if TYPE_CHECKING:
    from avs_api.settings import ApiSettings

log = structlog.get_logger(__name__)

_DEFAULT_BLOCK_S = 60.0  # an upstream 429 without a usable Retry-After
_MAX_BLOCK_S = 3600.0  # never trust a Retry-After beyond an hour
_JSON_TYPES = ("application/json", "application/vnd.api+json", "application/graphql-response+json")
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_MAX_ERROR_BODY = 16 * 1024  # an upstream 4xx body larger than this is not relayed


@dataclass(frozen=True)
class Proxied:
    """What the route sends back."""

    status: int
    body: bytes
    content_type: str
    cache: Literal["HIT", "MISS"]
    max_age_s: int
    age_s: int = 0

    def headers(self) -> dict[str, str]:
        headers = {"X-Cache": self.cache, "Cache-Control": f"public, max-age={max(self.max_age_s, 0)}"}
        if self.cache == "HIT":
            headers["Age"] = str(self.age_s)
        return headers


class ProxyService:
    def __init__(
        self, settings: ApiSettings, *, cache: Cache, limits: RedisLimits, upstream: UpstreamClient
    ) -> None:
        self._providers = providers(settings)
        self._cache = cache
        self._limits = limits
        self._upstream = upstream
        self._key_prefix = settings.proxy_key_prefix
        self._max_wait_s = settings.proxy_max_wait_seconds
        self._max_query_chars = settings.proxy_anilist_max_query_chars
        self.max_body_bytes = settings.proxy_anilist_max_body_bytes

    async def get(
        self, provider_name: str, path: str, *, raw_path: str, query: Iterable[tuple[str, str]]
    ) -> Proxied:
        """``GET`` an allowlisted path of a REST provider (jikan, kitsu)."""
        provider = self._providers[provider_name]
        resolved = resolve(provider.name, provider.routes, path, raw_path, query)
        url = f"{provider.base_url}/{resolved.path}"
        if resolved.query:
            url += "?" + urlencode(resolved.query, quote_via=quote)
        return await self._forward(provider, "GET", url, None)

    async def graphql(self, body: bytes) -> Proxied:
        """``POST`` a query-only GraphQL request to AniList (re-serialised: only query, variables, name)."""
        provider = self._providers["anilist"]
        return await self._forward(provider, "POST", provider.base_url, self._graphql_payload(body))

    def _graphql_payload(self, body: bytes) -> bytes:
        try:
            request = json.loads(body)
        except ValueError:
            raise invalid_graphql('the body is not JSON; send {"query": "...", "variables": {...}}') from None
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            raise invalid_graphql("the body must be a JSON object with a string 'query'")
        query, variables, name = request["query"], request.get("variables"), request.get("operationName")
        if len(query) > self._max_query_chars:
            raise invalid_graphql(f"the query is longer than {self._max_query_chars} characters")
        if variables is not None and not isinstance(variables, dict):
            raise invalid_graphql("'variables' must be an object")
        if name is not None and not (isinstance(name, str) and _NAME.fullmatch(name)):
            raise invalid_graphql("'operationName' must be a GraphQL name")
        try:
            check_query_only(query)
        except GraphQLRejected as exc:
            raise invalid_graphql(str(exc)) from None
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        if name is not None:
            payload["operationName"] = name
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    async def _forward(self, provider: Provider, method: str, url: str, body: bytes | None) -> Proxied:
        key = cache_key(self._key_prefix, provider.name, method, url, body)
        raw = await self._cache.get(key)
        cached = decode(raw) if raw is not None else None
        if cached is not None:
            age = cached.age_s()
            return Proxied(cached.status, cached.body, cached.content_type, "HIT", provider.ttl_s - age, age)
        await self._slot(provider)
        response = await self._upstream.send(provider.name, method, url, accept=provider.accept, body=body)
        log.info("proxy.upstream", provider=provider.name, method=method, url=url, status=response.status)
        return await self._answer(provider, key, response)

    async def _slot(self, provider: Provider) -> None:
        """Take a slot of the provider's budget, waiting a little for one; else 503 / 429."""
        deadline = time.monotonic() + self._max_wait_s
        while True:
            decision = await self._limits.acquire(provider.name, provider.windows)
            if decision.allowed:
                return
            if decision.blocked:
                raise upstream_rate_limited(provider.name, decision.retry_after_s)
            if time.monotonic() + decision.retry_after_s > deadline:
                raise upstream_busy(provider.name, decision.retry_after_s)
            # A little jitter, so the waiters of many processes do not collide again.
            await asyncio.sleep(decision.retry_after_s + random.uniform(0.0, 0.02))

    async def _answer(self, provider: Provider, key: str, response: UpstreamResponse) -> Proxied:
        status = response.status
        if status == 429:
            wait = min(retry_after_s(response.headers) or _DEFAULT_BLOCK_S, _MAX_BLOCK_S)
            await self._limits.block(provider.name, wait)
            log.warning("proxy.upstream_rate_limited", provider=provider.name, blocked_for_s=wait)
            raise upstream_rate_limited(provider.name, wait)
        if response.headers.get("x-ratelimit-remaining", "").strip() == "0":
            wait = min(
                retry_after_s(response.headers) or rate_limit_reset_s(response.headers) or 60.0, _MAX_BLOCK_S
            )
            await self._limits.block(provider.name, wait)
            log.info("proxy.upstream_budget_spent", provider=provider.name, blocked_for_s=wait)
        if status >= 500:
            raise upstream_error(
                provider.name, f"{provider.name} failed ({status}); retry later", status=status
            )
        if status >= 400:
            raise upstream_rejected(provider.name, status, _small_json(response.body))
        if status != 200 or response.content_type not in _JSON_TYPES:
            raise upstream_error(
                provider.name,
                f"{provider.name} answered {status} {response.content_type or 'without a type'}",
                retryable=False,
                status=status,
            )
        if _cacheable(provider, response.body):
            answer = CachedAnswer(status, response.content_type, response.body, time.time())
            await self._cache.set(key, encode(answer), ttl_s=provider.ttl_s)
        return Proxied(status, response.body, response.content_type, "MISS", provider.ttl_s)


def _cacheable(provider: Provider, body: bytes) -> bool:
    if provider.name != "anilist":
        return True
    # GraphQL reports errors with a 200: keep those out of the cache.
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and not parsed.get("errors")


def _small_json(body: bytes) -> Any | None:
    if len(body) > _MAX_ERROR_BODY:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


@contextlib.asynccontextmanager
async def open_proxy(settings: ApiSettings, *, cache: Cache) -> AsyncIterator[ProxyService]:
    """The proxy's composition root: its upstream session and its Redis limits, closed after."""
    limits = RedisLimits(settings.redis_url, key_prefix=f"{settings.proxy_key_prefix}rl:", timeout_s=0.25)
    try:
        upstream = UpstreamClient(
            timeout_s=settings.proxy_timeout_seconds,
            max_response_bytes=settings.proxy_max_response_bytes,
            user_agent=settings.proxy_user_agent,
        )
        async with upstream:
            yield ProxyService(settings, cache=cache, limits=limits, upstream=upstream)
    finally:
        await limits.close()


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes | None:
    """The whole body, or None once it exceeds ``limit`` bytes (the rest is not read)."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
