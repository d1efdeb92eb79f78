"""Small in-process caches of the search service, kept per index / embedder object.

Nothing here is shared between processes: these caches hold what is cheap to
recompute and hot on every request (query embeddings, the genre/rating vocabulary,
title orderings), so a Redis round trip would cost more than it saves.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """A bounded mapping, least recently used out first; entries older than ``ttl_s`` are misses."""

    def __init__(self, maxsize: int, ttl_s: float | None = None) -> None:
        self._maxsize = maxsize
        self._ttl_s = ttl_s
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self._data.get(key)
        if found is None:
            return None
        stored_at, value = found
        if self._ttl_s is not None and time.monotonic() - stored_at > self._ttl_s:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = (time.monotonic(), value)
        self._data.move_to_end(key)
        while len(self._data) > self._maxsize:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    async def get_or_compute(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        value = self.get(key)
        if value is None:
            value = await compute()
            self.put(key, value)
        return value


Owner = TypeVar("Owner")


class PerObject(Generic[Owner, V]):
    """One value per live owner object (e.g. a cache per vector index), dropped with the owner."""

    def __init__(self, factory: Callable[[], V]) -> None:
        self._factory = factory
        self._values: weakref.WeakKeyDictionary[Owner, V] = weakref.WeakKeyDictionary()

    def of(self, owner: Owner) -> V:
        value = self._values.get(owner)
        if value is None:
            value = self._values[owner] = self._factory()
        return value


class RefreshAhead(Generic[K, V]):
    """A bounded cache whose entries are recomputed in the background before they expire.

    A value younger than ``refresh_s`` is served as is; one between ``refresh_s`` and
    ``ttl_s`` old is served while one background task recomputes it; an older one (or
    none) is computed in the request. So a key asked for steadily is never recomputed
    in a request after its first use. A failed refresh is logged and leaves the value
    to expire.
    """

    def __init__(self, maxsize: int, *, refresh_s: float, ttl_s: float) -> None:
        self._entries: LruCache[K, tuple[float, V]] = LruCache(maxsize, ttl_s)
        self._refresh_s = refresh_s
        self._refreshing: dict[K, asyncio.Task[None]] = {}

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        found = self._entries.get(key)
        if found is None:
            value = await compute()
            self._entries.put(key, (time.monotonic(), value))
            return value
        computed_at, value = found
        if time.monotonic() - computed_at > self._refresh_s and key not in self._refreshing:
            task = asyncio.create_task(self._refresh(key, compute))
            self._refreshing[key] = task
            task.add_done_callback(lambda _: self._refreshing.pop(key, None))
        return value

    async def _refresh(self, key: K, compute: Callable[[], Awaitable[V]]) -> None:
        try:
            self._entries.put(key, (time.monotonic(), await compute()))
        except Exception as exc:  # the stale value stays until it expires; the next miss recomputes
            log.warning("background cache refresh failed", error=repr(exc))

    def clear(self) -> None:
        self._entries.clear()
