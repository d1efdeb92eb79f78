"""HTTP caching of JSON responses: a Redis response cache, strong ETags and ``304 Not Modified``.

Two layers sit in front of the routes that use this (see the implementation plan,
phase 5): an edge cache (API Gateway) keyed by path and query, honouring
``Cache-Control``, and the Redis response cache here, which serves the bytes of an
identical earlier request without recomputing them.

* :func:`cached_json`: the Redis response cache for read endpoints whose result
  depends only on the path and the query (structured search, lists, ``/similar``).
  Keyed by the path and the *normalised* query, so ``?a=1&b=2`` and ``?b=2&a=1``
  share one entry. Redis down means every request computes; it never means a 500.
* :class:`LocalResponses`: the same, kept in this process instead of Redis, for text
  search (see its docstring for why).
* :func:`json_response`: ETag / ``304`` / ``Cache-Control`` for endpoints with their
  own caching (``/anime/{id}`` and its ``anime:<id>`` cache-aside).

The ETag is the hash of the exact body bytes, so a response served from Redis and
one computed afresh carry the same tag whenever their bodies are the same.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from fastapi import Request, Response

if TYPE_CHECKING:  # bootstrap re-exports the cron jobs, which import this module
    from avs_api.bootstrap import ApiResources

JSON_MEDIA_TYPE = "application/json"
#: Bump when the stored form of cached responses changes, so old entries are ignored.
KEY_VERSION = "v1"
#: Keys longer than this keep the path readable and hash the query (Redis keys stay small).
_MAX_READABLE_KEY = 512

CACHE_STATUS_HEADER = "X-Cache"
"""``HIT`` when the body came from the Redis response cache, ``MISS`` when it was computed."""


class ResponseStore(Protocol):
    """Where :func:`cached_json` keeps response bodies (``RedisCache`` or :class:`LocalResponses`)."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl_s: int) -> None: ...


class LocalResponses:
    """A response cache in this process: least recently used out first, bounded in bytes.

    For text search (``/search/semantic``). Its queries are free text and mostly
    distinct, so most requests miss, and with Redis every miss paid a GET and a SET:
    about 0.6 ms of the event loop per hybrid search (``bench/api.py``, 40,000 anime),
    an eighth of its whole cost, for hits that rarely come. Here a miss costs a dict
    lookup, and a repeated query is still served without a search. The price: each API
    process has its own entries (a query repeated on another instance is computed there
    once), and staleness is bounded by the same ``ttl_s`` as in Redis. Redis being down
    does not affect it.
    """

    def __init__(self, *, max_bytes: int = 32 << 20, clock: Callable[[], float] = time.monotonic) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self._max_bytes = max_bytes
        self._clock = clock
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """The bytes of the bodies held now."""
        return self._bytes

    async def get(self, key: str) -> bytes | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires_at, body = found
        if self._clock() >= expires_at:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return body

    async def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        if key in self._entries:
            self._drop(key)
        if ttl_s <= 0 or len(value) > self._max_bytes:
            return
        self._entries[key] = (self._clock() + ttl_s, value)
        self._bytes += len(value)
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _drop(self, key: str) -> None:
        _, body = self._entries.pop(key)
        self._bytes -= len(body)


def dumps(body: Mapping[str, Any]) -> bytes:
    """The canonical JSON bytes of a response body (compact, UTF-8, no NaN)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


#: hashlib lets the GIL go while hashing this much or more, and a busy event loop then waits
#: for another thread's turn to take it back; a response body is hashed in smaller pieces.
_HASH_PIECE = 2047


def etag_of(body: bytes) -> str:
    """A strong ETag: the quoted SHA-256 of the body (first 128 bits).

    Hashed in pieces under hashlib's GIL threshold: a few microseconds of CPU either way,
    but letting the GIL go cost the event loop ~90 us per text search (cProfile, hybrid
    search at concurrency 16), waiting for the query embedding thread to hand it back.
    """
    digest = hashlib.sha256()
    view = memoryview(body)
    for start in range(0, len(view), _HASH_PIECE):
        digest.update(view[start : start + _HASH_PIECE])
    return '"' + digest.hexdigest()[:32] + '"'


def normalised_query(request: Request) -> str:
    """The query string with parameters sorted (repeated ones by value) and empty ones dropped."""
    pairs = sorted((k, v) for k, v in request.query_params.multi_items() if v != "")
    return urlencode(pairs)


def cache_key(request: Request, namespace: str = "resp") -> str:
    """``<namespace>:v1:<path>?<normalised query>``; a long query is replaced by its hash."""
    query = normalised_query(request)
    key = f"{namespace}:{KEY_VERSION}:{request.url.path}?{query}"
    if len(key) > _MAX_READABLE_KEY:
        digest = hashlib.sha256(query.encode()).hexdigest()
        key = f"{namespace}:{KEY_VERSION}:{request.url.path}#{digest}"
    return key


def not_modified(request: Request, etag: str) -> bool:
    """True when ``If-None-Match`` lists ``etag`` (or is ``*``).

    RFC 9110 compares ``If-None-Match`` weakly: ``W/"x"`` matches ``"x"``.
    """
    header = request.headers.get("if-none-match")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


def _respond(request: Request, body: bytes, *, max_age: int, extra: Mapping[str, str]) -> Response:
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max(int(max_age), 0)}", **extra}
    if not_modified(request, etag):
        # A 304 repeats the validators and caching headers of the 200 it stands for, no body.
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=JSON_MEDIA_TYPE, headers=headers)


def json_response(body: Mapping[str, Any] | bytes, *, request: Request, max_age: int) -> Response:
    """A JSON response with a strong ETag and ``Cache-Control: public, max-age``; ``304`` when
    ``If-None-Match`` matches. ``body`` may be ready JSON bytes (served as they are)."""
    raw = body if isinstance(body, bytes) else dumps(body)
    return _respond(request, raw, max_age=max_age, extra={})


async def cached_json(
    request: Request,
    resources: ApiResources,
    *,
    ttl_s: int,
    compute: Callable[[], Awaitable[Mapping[str, Any] | bytes]],
    namespace: str = "resp",
    store: ResponseStore | None = None,
) -> Response:
    """Serve the JSON of ``compute()`` through the Redis response cache (or ``store``).

    Parameters
    ----------
    request:
        The request; its path and normalised query are the cache key.
    resources:
        Whose ``cache`` (Redis) stores the response bytes for ``ttl_s`` seconds.
    ttl_s:
        Lifetime in Redis, and the ``max-age`` told to clients and the edge cache.
    compute:
        Builds the body on a miss: a JSON object, or its JSON bytes ready to send.
        Whatever it raises propagates (errors are mapped to JSON by the app's
        handlers) and nothing is cached.
    namespace:
        Key prefix, to keep unrelated response caches apart.
    store:
        Where bodies are kept instead of ``resources.cache``, e.g. ``resources.responses``
        (a :class:`LocalResponses`).

    Returns
    -------
    Response
        ``200`` with the body, or ``304`` without one when ``If-None-Match`` matches
        (also right after a miss). Always with ``ETag``, ``Cache-Control`` and
        ``X-Cache: HIT|MISS``. Redis down behaves as a miss on every request.
    """
    key = cache_key(request, namespace)
    bodies: ResponseStore = resources.cache if store is None else store
    body = await bodies.get(key)
    status = "HIT"
    if body is None:
        status = "MISS"
        computed = await compute()
        body = computed if isinstance(computed, bytes) else dumps(computed)
        await bodies.set(key, body, ttl_s=ttl_s)
    return _respond(request, body, max_age=ttl_s, extra={CACHE_STATUS_HEADER: status})
