"""The HTTP client to the providers (aiohttp): one session, bounded answers, errors as ApiError.

Requests carry only the headers built here (a User-Agent naming this project, Accept,
Content-Type): nothing of the caller's request, so our clients' credentials and cookies
never leave. Redirects are not followed, cookies are not kept, proxies from the
environment are not used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp

from avs_api.proxy.errors import upstream_error, upstream_timeout

_KEPT_HEADERS = ("content-type", "retry-after", "x-ratelimit-remaining", "x-ratelimit-reset")


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names; only those the proxy reads
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class UpstreamClient:
    """Use as ``async with UpstreamClient(...) as client`` (the session needs a running loop)."""

    def __init__(self, *, timeout_s: float, max_response_bytes: int, user_agent: str) -> None:
        self._timeout_s = timeout_s
        self._max_bytes = max_response_bytes
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._timeout_s, connect=min(self._timeout_s, 5.0)),
            connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=300),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self, provider: str, method: str, url: str, *, accept: str, body: bytes | None = None
    ) -> UpstreamResponse:
        """The provider's answer (any status); ``ApiError`` 504 on timeout, 502 when unreachable."""
        if self._session is None:
            raise RuntimeError("UpstreamClient used outside `async with`")
        headers = {"User-Agent": self._user_agent, "Accept": accept}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, allow_redirects=False
            ) as response:
                if (response.content_length or 0) > self._max_bytes:
                    raise upstream_error(provider, f"{provider} answered more than {self._max_bytes} bytes")
                content = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    content += chunk
                    if len(content) > self._max_bytes:
                        raise upstream_error(
                            provider, f"{provider} answered more than {self._max_bytes} bytes"
                        )
                kept = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
                return UpstreamResponse(response.status, kept, bytes(content))
        except TimeoutError as exc:
            raise upstream_timeout(provider, self._timeout_s) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise upstream_error(provider, f"{provider} is unreachable ({type(exc).__name__})") from exc
