"""Getting the offline database: download (streamed, retried) or a local path, and its version.

A version is a token recorded after a successful sync in the metadata
``source-commit-sha`` of ``processed/enriched_anime_database.json``:

- the commit of the ``latest`` tag (asked from ``sync_version_url``, for the default
  source only), recorded as the bare SHA, as ``avs bootstrap --source-commit-sha`` does;
- else the asset's ETag (a ``HEAD``), recorded as ``etag:<value>``;
- else (or for a local file) the SHA-256 of the bytes, recorded as ``sha256:<hex>``.

``lastUpdate`` is never used: two updates on one day share it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import unquote, urlsplit

import aiohttp
import structlog

from avs_shared.errors import Permanent, Retryable

log = structlog.get_logger(__name__)

_USER_AGENT = "anime-vector-service-sync/0.1 (+https://github.com/manami-project/anime-offline-database)"
_SHA = re.compile(r"^[0-9a-f]{40}$")
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_CHUNK = 256 * 1024
T = TypeVar("T")

VersionKind = Literal["commit", "etag", "sha256"]
DownloadProgress = Callable[[int, int], None]
"""``(bytes so far, total bytes or 0 when unknown)``."""


@dataclass(frozen=True)
class SourceVersion:
    """What identifies one release of the source; ``token`` is what gets recorded."""

    kind: VersionKind
    value: str

    @property
    def token(self) -> str:
        return self.value if self.kind == "commit" else f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class FetchedSource:
    """The source as a local file."""

    path: Path
    name: str
    size: int
    sha256: str
    origin: str


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def local_source(path: Path) -> FetchedSource:
    """A local file (its SHA-256 computed by streaming it).

    Raises
    ------
    Permanent
        The file does not exist or is not a file.
    """
    path = path.expanduser()
    if not path.is_file():
        raise Permanent(f"source file {path} does not exist; pass an existing path or a URL with --source")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return FetchedSource(path, path.name, path.stat().st_size, digest.hexdigest(), str(path))


class SourceClient:
    """HTTP side of the source: version probes and the retried, streamed download.

    Parameters
    ----------
    attempts:
        Tries per request (timeouts, connection errors, 408/429/5xx are retried with
        exponential backoff and jitter; other HTTP errors are not).
    timeout_s:
        Total time allowed for one attempt.
    backoff_s:
        Base of the backoff (doubles per attempt, capped at 30 s).
    """

    def __init__(self, *, attempts: int = 5, timeout_s: float = 300.0, backoff_s: float = 1.0) -> None:
        self._attempts = max(attempts, 1)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=30)
        self._backoff_s = backoff_s

    async def commit_of_latest(self, version_url: str) -> SourceVersion | None:
        """The commit SHA the ``latest`` tag points at, or None if it cannot be had."""
        headers = {"Accept": "application/vnd.github.sha", "User-Agent": _USER_AGENT}
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as session:
                text = await self._retried(lambda: _get_text(session, version_url, headers), version_url)
        except (Permanent, Retryable) as exc:
            log.warning("sync.version_probe_failed", url=version_url, error=str(exc))
            return None
        sha = text.strip().strip('"').lower()
        if not _SHA.match(sha):
            try:
                sha = str(json.loads(text).get("sha", "")).lower()
            except (ValueError, AttributeError):
                sha = ""
        if not _SHA.match(sha):
            log.warning("sync.version_probe_unreadable", url=version_url, answer=text[:200])
            return None
        return SourceVersion("commit", sha)

    async def etag_of(self, url: str) -> SourceVersion | None:
        """The asset's ETag (after redirects), or None if the server gives none."""
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as session:
                etag = await self._retried(lambda: _head_etag(session, url), url)
        except (Permanent, Retryable) as exc:
            log.warning("sync.etag_probe_failed", url=url, error=str(exc))
            return None
        return SourceVersion("etag", etag.strip()) if etag and etag.strip() else None

    async def download(
        self, url: str, directory: Path, *, progress: DownloadProgress | None = None
    ) -> FetchedSource:
        """Stream ``url`` into a file under ``directory``; a failed attempt starts over.

        Raises
        ------
        Permanent
            An HTTP error that no retry fixes (404, 403, ...).
        Retryable
            Still failing after the last attempt.
        """
        name = unquote(Path(urlsplit(url).path).name) or "offline-database"
        target = directory / name

        async def attempt() -> FetchedSource:
            digest = hashlib.sha256()
            size = 0
            async with aiohttp.ClientSession(timeout=self._timeout) as session:
                async with session.get(url, headers={"User-Agent": _USER_AGENT}) as resp:
                    _check(resp, url)
                    total = resp.content_length or 0
                    with target.open("wb") as out:
                        async for chunk in resp.content.iter_chunked(_CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
                            if progress is not None:
                                progress(size, total)
                    if total and size != total:
                        raise aiohttp.ClientPayloadError(f"got {size} of {total} bytes")
            return FetchedSource(target, name, size, digest.hexdigest(), url)

        return await self._retried(attempt, url)

    async def _retried(self, call: Callable[[], Awaitable[T]], url: str) -> T:
        last: Exception | None = None
        for number in range(1, self._attempts + 1):
            try:
                return await call()
            except _HttpStatus as exc:
                if exc.status not in _RETRY_STATUS:
                    raise Permanent(
                        f"{url} answered HTTP {exc.status}; check the URL (--source / AVS_SYNC_SOURCE_URL)"
                    ) from exc
                last = exc
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                last = exc
            if number < self._attempts:
                delay = random.uniform(0.5, 1.0) * min(30.0, self._backoff_s * 2 ** (number - 1))
                log.warning("sync.download_retry", url=url, attempt=number, error=str(last), retry_in_s=delay)
                await asyncio.sleep(delay)
        raise Retryable(
            f"{url} failed {self._attempts} times (last error: {last!r}); check the network and run again",
            retry_after_s=300.0,
        ) from last


class _HttpStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _check(resp: aiohttp.ClientResponse, url: str) -> None:
    if resp.status >= 400:
        raise _HttpStatus(resp.status)


async def _get_text(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> str:
    async with session.get(url, headers=headers) as resp:
        _check(resp, url)
        return await resp.text()


async def _head_etag(session: aiohttp.ClientSession, url: str) -> str | None:
    async with session.head(url, headers={"User-Agent": _USER_AGENT}, allow_redirects=True) as resp:
        _check(resp, url)
        return resp.headers.get("ETag")
