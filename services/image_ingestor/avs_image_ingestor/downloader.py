"""Downloading one image safely: retries, a deadline, a size cap, redirects checked hop by hop.

:meth:`Downloader.fetch` makes up to ``image_download_attempts`` attempts (tenacity,
exponential backoff with full jitter) inside a total deadline. An attempt follows
redirects itself (at most ``image_max_redirects``), checking every URL with the
:class:`~avs_image_ingestor.safety.AddressPolicy`; the connector's
:class:`~avs_image_ingestor.safety.SafeResolver` checks the addresses it connects to.
The body is streamed and abandoned as soon as it exceeds ``image_max_bytes`` or its
first bytes are not an image, so a huge or wrong body is never read to the end.

Failures are :class:`DownloadError`: ``permanent`` ones (refused address or content,
too large, HTTP 4xx but 408/425/429) end the download at once; the others (network
errors, timeouts, HTTP 5xx) are retried until the attempts or the deadline run out.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential
from yarl import URL

from avs_image_ingestor.content import SNIFF_BYTES, ImageType, declared_type_refusal, describe, sniff
from avs_image_ingestor.safety import AddressPolicy, BlockedAddress, SafeResolver, UnsafeUrl
from avs_image_ingestor.settings import ImageIngestorSettings

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRYABLE_4XX = frozenset({408, 425, 429})
_CHUNK = 64 * 1024
_ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif;q=0.9,*/*;q=0.1"


class DownloadError(Exception):
    """A download that did not produce an image.

    Attributes
    ----------
    permanent:
        No retry can help (refused address or content, too large, HTTP 404, ...).
    attempts:
        How many attempts were made (set by :meth:`Downloader.fetch`).
    """

    def __init__(self, message: str, *, permanent: bool, attempts: int = 1) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.attempts = attempts


def refused(message: str) -> DownloadError:
    return DownloadError(message, permanent=True)


@dataclass(frozen=True)
class Downloaded:
    """A fetched image: its bytes, their SHA-256, the detected type and the final URL."""

    body: bytes
    sha256: str
    image: ImageType
    final_url: str
    attempts: int


class Downloader:
    """Fetches images with the limits of ``settings``; one per process (its limits are shared).

    Parameters
    ----------
    settings:
        Attempts, backoff, deadline, size cap, redirects, concurrency, allowlist.
    resolver:
        The DNS resolver under the address checks (the system's by default).

    Attributes
    ----------
    requests:
        HTTP requests sent so far (every attempt and every redirect hop counts).
    """

    def __init__(self, settings: ImageIngestorSettings, *, resolver: AbstractResolver | None = None) -> None:
        self._settings = settings
        self._policy = AddressPolicy(settings.image_allowed_networks)
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self.requests = 0

    @property
    def policy(self) -> AddressPolicy:
        return self._policy

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            s = self._settings
            connector = aiohttp.TCPConnector(
                resolver=SafeResolver(self._policy, self._resolver),
                limit=s.image_global_concurrency,
                limit_per_host=s.image_per_host_concurrency,
                ttl_dns_cache=60,
            )
            timeout = aiohttp.ClientTimeout(
                total=None,
                sock_connect=s.image_attempt_timeout_seconds,
                sock_read=s.image_attempt_timeout_seconds,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                headers={"User-Agent": s.image_user_agent, "Accept": _ACCEPT},
                auto_decompress=False,  # count the bytes that travel; images are not gzip-encoded
                trust_env=False,  # no proxy from the environment: the checks must see the real target
            )
            self._global = asyncio.Semaphore(s.image_global_concurrency)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str) -> Downloaded:
        """Download ``url`` (see the module docstring); :class:`DownloadError` if it fails."""
        s = self._settings
        try:
            first = self._policy.checked_url(url)
        except UnsafeUrl as exc:
            raise DownloadError(str(exc), permanent=True) from exc
        retrying = AsyncRetrying(
            stop=stop_after_attempt(s.image_download_attempts),
            wait=wait_random_exponential(
                multiplier=s.image_backoff_base_seconds, max=s.image_backoff_max_seconds
            ),
            retry=retry_if_exception(lambda e: isinstance(e, DownloadError) and not e.permanent),
            reraise=True,
        )
        attempts = 0
        try:
            async with asyncio.timeout(s.image_download_deadline_seconds):
                async for attempt in retrying:
                    with attempt:
                        attempts = attempt.retry_state.attempt_number
                        body, image, final = await self._attempt(first)
        except TimeoutError as exc:
            raise DownloadError(
                f"no image within the deadline of {s.image_download_deadline_seconds:g} s "
                f"({attempts} attempt{'s' if attempts != 1 else ''})",
                permanent=False,
                attempts=max(attempts, 1),
            ) from exc
        except DownloadError as exc:
            exc.attempts = max(attempts, 1)
            raise
        return Downloaded(
            body=body,
            sha256=hashlib.sha256(body).hexdigest(),
            image=image,
            final_url=str(final),
            attempts=attempts,
        )

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """One of the per-host and one of the global download slots."""
        self._open()
        assert self._global is not None
        per_host = self._hosts.get(host)
        if per_host is None:
            per_host = self._hosts[host] = asyncio.Semaphore(self._settings.image_per_host_concurrency)
        async with per_host, self._global:
            yield

    async def _attempt(self, url: URL) -> tuple[bytes, ImageType, URL]:
        current = url
        for _ in range(self._settings.image_max_redirects + 1):
            async with self._slot((current.host or "").lower()):
                got = await self._request(current)
            if isinstance(got, URL):
                current = got
                continue
            return got[0], got[1], current
        raise refused(f"more than {self._settings.image_max_redirects} redirects")

    async def _request(self, url: URL) -> URL | tuple[bytes, ImageType]:
        """One HTTP request: the next URL of a redirect, or the image."""
        session = self._open()
        self.requests += 1
        try:
            async with session.get(url, allow_redirects=False) as resp:
                if resp.status in _REDIRECTS:
                    location = resp.headers.get("Location")
                    if not location:
                        raise refused(f"HTTP {resp.status} redirect without a Location")
                    try:
                        return self._policy.checked_url(url.join(URL(location)))
                    except (UnsafeUrl, ValueError) as exc:
                        raise refused(f"redirect to {location!r} refused: {exc}") from exc
                if resp.status >= 400:
                    permanent = resp.status < 500 and resp.status not in _RETRYABLE_4XX
                    raise DownloadError(
                        f"HTTP {resp.status} {resp.reason or ''}".strip(), permanent=permanent
                    )
                if resp.status != 200:
                    raise refused(f"unexpected HTTP {resp.status} (expected 200 with the image)")
                return await self._body(resp)
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, BlockedAddress):
                raise refused(str(exc.os_error)) from exc
            raise DownloadError(f"cannot resolve {url.host}: {exc.os_error}", permanent=False) from exc
        except aiohttp.ClientError as exc:
            raise DownloadError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
        except TimeoutError as exc:
            raise DownloadError(
                f"no answer within {self._settings.image_attempt_timeout_seconds:g} s", permanent=False
            ) from exc

    async def _body(self, resp: aiohttp.ClientResponse) -> tuple[bytes, ImageType]:
        limit = self._settings.image_max_bytes
        reason = declared_type_refusal(resp.headers.get("Content-Type"))
        if reason is not None:
            resp.close()
            raise refused(reason)
        if resp.content_length is not None and resp.content_length > limit:
            resp.close()
            raise refused(f"the image is {resp.content_length} bytes, more than the limit of {limit}")
        body = bytearray()
        image: ImageType | None = None
        async for chunk in resp.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                resp.close()  # stop reading now: the rest is never received
                raise refused(f"the image is larger than the limit of {limit} bytes (stopped reading)")
            if image is None and len(body) >= SNIFF_BYTES:
                image = self._sniffed(resp, body)
        if not body:
            raise refused("the response is empty")
        return bytes(body), image or self._sniffed(resp, body)

    @staticmethod
    def _sniffed(resp: aiohttp.ClientResponse, body: bytearray) -> ImageType:
        image = sniff(bytes(body[:SNIFF_BYTES]))
        if image is None:
            resp.close()
            declared = resp.headers.get("Content-Type") or "no content type"
            raise refused(
                f"the content is not a JPEG, PNG, GIF, WebP or AVIF image (declared {declared}, "
                f"starts with {describe(bytes(body))})"
            )
        return image
