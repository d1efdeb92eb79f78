"""Per-client rate limiting: a token bucket per client in Redis, in front of every endpoint.

A client is its API key's name when it presents a valid key (``key:<name>``: one
bucket per holder wherever it calls from), else its IP address (``ip:<addr>``; an IPv6
client is its /64). Behind load balancers set ``AVS_RATE_LIMIT_TRUSTED_PROXIES`` to the
number of proxies that append to ``X-Forwarded-For``; with 0 the header is ignored, so a
client cannot pick its own bucket.

Each client has ``rate_limit_burst`` tokens refilled at ``rate_limit_per_minute``.
Responses carry ``X-RateLimit-Limit`` (the bucket size) and ``X-RateLimit-Remaining``;
a request with no token left gets 429 JSON with ``Retry-After``. ``/health`` and
``/ready`` (``rate_limit_exempt_paths``) are never limited.

Redis down: the limiter degrades to an in-process bucket per client (see
:mod:`avs_shared.adapters.redis_limits`): still limited, but per process, not across
the fleet. Limiting never fails a request because Redis is down.
"""

from __future__ import annotations

import ipaddress
import math
from typing import TYPE_CHECKING

import structlog
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avs_api import auth
from avs_api.errors import error_body
from avs_shared.adapters.redis_limits import RedisLimits

if TYPE_CHECKING:
    from fastapi import FastAPI

    from avs_api.settings import ApiSettings

log = structlog.get_logger(__name__)


def install_rate_limit(app: FastAPI, settings: ApiSettings) -> None:
    """Limit every client of ``app`` (unless ``rate_limit_enabled`` is false).

    Call before adding CORS, so that CORS stays the outer layer and 429s carry its headers.
    """
    if settings.rate_limit_enabled:
        app.add_middleware(RateLimitMiddleware, settings=settings)


class RateLimitMiddleware:
    """Pure ASGI middleware; its Redis client opens lazily and closes with the app's lifespan."""

    def __init__(self, app: ASGIApp, *, settings: ApiSettings) -> None:
        self.app = app
        self._settings = settings
        self._rate_per_s = settings.rate_limit_per_minute / 60.0
        self._burst = settings.rate_limit_burst
        self._exempt = frozenset(settings.rate_limit_exempt_paths)
        self._limits: RedisLimits | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_on_shutdown(send))
            return
        if scope["type"] != "http" or scope["path"] in self._exempt:
            await self.app(scope, receive, send)
            return
        client = await self._client(scope)
        decision = await self._open().take(client, rate_per_s=self._rate_per_s, burst=self._burst)
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.retry_after_s))
            body = error_body(
                "rate_limited",
                f"too many requests from this client; retry after {retry_after} s "
                f"(limit: {self._settings.rate_limit_per_minute} per minute, bursts of {self._burst})",
                retryable=True,
            )
            headers = {
                "Retry-After": str(retry_after),
                "X-RateLimit-Limit": str(self._burst),
                "X-RateLimit-Remaining": "0",
            }
            await JSONResponse(body, status_code=429, headers=headers)(scope, receive, send)
            return
        extra = [
            (b"x-ratelimit-limit", str(self._burst).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _open(self) -> RedisLimits:
        if self._limits is None:
            self._limits = RedisLimits(
                self._settings.redis_url, key_prefix=self._settings.rate_limit_key_prefix, timeout_s=0.25
            )
        return self._limits

    def _closing_on_shutdown(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] in {"lifespan.shutdown.complete", "lifespan.shutdown.failed"}:
                limits, self._limits = self._limits, None
                if limits is not None:
                    await limits.close()
            await send(message)

        return wrapped

    async def _client(self, scope: Scope) -> str:
        headers = Headers(scope=scope)
        presented = auth.presented_key(headers)
        if presented is not None:
            try:
                principal = await auth.key_store(scope["app"], self._settings).identify(presented)
            except Exception as exc:
                # The keys cannot be read now (Secrets Manager down): limit by address; a
                # protected route answers the auth failure itself.
                log.debug("ratelimit.identify_failed", error=repr(exc))
                principal = None
            if principal is not None:
                return f"key:{principal.name}"
        return f"ip:{client_address(scope, headers, self._settings.rate_limit_trusted_proxies)}"


def client_address(scope: Scope, headers: Headers, trusted_proxies: int) -> str:
    """The caller's address: the peer, or the one our ``trusted_proxies`` saw (IPv6 as its /64)."""
    peer = scope.get("client")
    address = peer[0] if peer else "unknown"
    if trusted_proxies > 0:
        hops = [h.strip() for value in headers.getlist("x-forwarded-for") for h in value.split(",")]
        hops = [h for h in hops if h]
        if hops:
            # Each trusted proxy appended the address it saw; anything left of those is the client's say.
            address = hops[-trusted_proxies] if len(hops) >= trusted_proxies else hops[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
