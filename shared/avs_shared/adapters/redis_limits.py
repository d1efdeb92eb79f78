"""Distributed rate limits on Redis (redis.asyncio), with an in-process fallback.

Two algorithms, each one atomic Lua script timed by Redis's own clock (``TIME``), so
every process that shares the Redis shares the limit:

* :meth:`RedisLimits.acquire`: a sliding-window log over one or more windows at once
  ("3 per second AND 60 per minute"), all or nothing, plus a *block* that stops every
  caller for a while (an upstream said ``Retry-After``). It never lets more than
  ``limit`` calls through in any window, which is what polite clients of a public API
  owe it.
* :meth:`RedisLimits.take`: a token bucket (GCRA: one key per client) for the API's
  own per-client limit.

Degradation: rate limiting must not take the service down with Redis. When Redis
fails (short timeouts, redis-py's retries off) the limiter logs once, keeps answering
from an in-process limiter with the same semantics for ``down_for_s`` seconds, then
tries Redis again. While degraded the limits are per process, not global: N processes
let through up to N times the limit.

Keys use a hash tag (``{name}``) so the keys of one script share a cluster slot.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

_US = 1_000_000  # the scripts count in microseconds

# KEYS: block key, then one sorted set per window. ARGV: member nonce, then limit and
# window (µs) per window. Returns {allowed, wait_us, remaining, blocked}. Numbers go
# back to Redis through string.format: Lua would print them with 14 digits.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local blocked = redis.call('PTTL', KEYS[1])
if blocked > 0 then return {0, blocked * 1000, 0, 1} end
local wait = 0
local remaining = -1
for i = 2, #KEYS do
  local limit = tonumber(ARGV[2 * i - 2])
  local window = tonumber(ARGV[2 * i - 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('%.0f', now - window))
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  elseif remaining < 0 or limit - count - 1 < remaining then
    remaining = limit - count - 1
  end
end
if wait > 0 then return {0, wait, 0, 0} end
for i = 2, #KEYS do
  local window = tonumber(ARGV[2 * i - 1])
  redis.call('ZADD', KEYS[i], string.format('%.0f', now), ARGV[1] .. ':' .. string.format('%.0f', now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(window / 1000) + 1)
end
return {1, 0, remaining, 0}
"""

# GCRA. KEYS: the bucket. ARGV: emission interval (µs), burst. Returns {allowed, wait_us, remaining}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat + interval - interval * burst
if allow_at > now then return {0, allow_at - now, 0} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0, math.floor((now - allow_at) / interval)}
"""

# KEYS: block key. ARGV: milliseconds. Extends a block, never shortens it.
_BLOCK = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


@dataclass(frozen=True)
class Window:
    """At most ``limit`` calls in any ``seconds``-long window."""

    limit: int
    seconds: float


@dataclass(frozen=True)
class Decision:
    """The answer to one attempt.

    Attributes
    ----------
    allowed:
        The call may go ahead (and was counted).
    retry_after_s:
        When refused: how long until a slot frees (or the block ends). 0 when allowed.
    remaining:
        Calls left right now after this one (the tightest window); 0 when refused.
    blocked:
        Refused because of :meth:`RedisLimits.block`, not because of the windows.
    """

    allowed: bool
    retry_after_s: float = 0.0
    remaining: int = 0
    blocked: bool = False


class LocalLimits:
    """The same limits in this process only (the fallback, and a congruent reference)."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._logs: dict[str, deque[float]] = {}
        self._tats: dict[str, float] = {}
        self._blocks: dict[str, float] = {}
        self._max_keys = max_keys

    async def acquire(self, key: str, windows: Sequence[Window]) -> Decision:
        now = time.monotonic()
        until = self._blocks.get(key, 0.0)
        if until > now:
            return Decision(False, until - now, 0, blocked=True)
        wait, remaining = 0.0, -1
        logs = [self._logs.setdefault(_window_key(key, w), deque()) for w in windows]
        for w, entries in zip(windows, logs, strict=True):
            while entries and entries[0] <= now - w.seconds:
                entries.popleft()
            if len(entries) >= w.limit:
                wait = max(wait, entries[len(entries) - w.limit] + w.seconds - now)
            elif remaining < 0 or w.limit - len(entries) - 1 < remaining:
                remaining = w.limit - len(entries) - 1
        if wait > 0:
            return Decision(False, wait, 0)
        for entries in logs:
            entries.append(now)
        self._prune(now)
        return Decision(True, 0.0, max(remaining, 0))

    async def take(self, key: str, *, rate_per_s: float, burst: int) -> Decision:
        now = time.monotonic()
        interval = 1.0 / rate_per_s
        tat = max(self._tats.get(key, now), now)
        allow_at = tat + interval - interval * burst
        if allow_at > now:
            return Decision(False, allow_at - now, 0)
        self._tats[key] = tat + interval
        self._prune(now)
        return Decision(True, 0.0, math.floor((now - allow_at) / interval + 1e-9))

    async def block(self, key: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        self._blocks[key] = max(self._blocks.get(key, 0.0), until)

    def _prune(self, now: float) -> None:
        # Bounded memory: drop state that no longer limits anyone once there is a lot of it.
        if len(self._logs) + len(self._tats) + len(self._blocks) <= self._max_keys:
            return
        self._tats = {k: v for k, v in self._tats.items() if v > now}
        self._blocks = {k: v for k, v in self._blocks.items() if v > now}
        self._logs = {k: v for k, v in self._logs.items() if v and v[-1] > now - 3600}


class RedisLimits:
    """Rate limits shared through Redis; degrades to :class:`LocalLimits` while Redis is down.

    Parameters
    ----------
    url:
        ``redis://host:port/db``.
    key_prefix:
        Prepended to every key (tenants and tests share one Redis).
    timeout_s:
        Connect and per-command socket timeout: a limiter sits in front of every request.
    down_for_s:
        After a failure, use the local limiter this long before trying Redis again.
    """

    def __init__(
        self, url: str, *, key_prefix: str = "", timeout_s: float = 0.25, down_for_s: float = 5.0
    ) -> None:
        self._where = _redacted(url)
        self._prefix = key_prefix
        self._down_for_s = down_for_s
        self._down_until = 0.0
        self._nonce = uuid.uuid4().hex[:12]
        self._calls = itertools.count()
        self.local = LocalLimits()
        # No I/O here: redis-py connects on the first command.
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_error=[],
            health_check_interval=0,
        )
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._take = self._redis.register_script(_TAKE)
        self._block = self._redis.register_script(_BLOCK)

    @property
    def degraded(self) -> bool:
        """True while the local fallback answers instead of Redis."""
        return time.monotonic() < self._down_until

    async def acquire(self, key: str, windows: Sequence[Window]) -> Decision:
        """Count one call against every window of ``key`` if all have room and no block holds."""
        if not windows:
            raise ValueError("acquire needs at least one window")
        if self.degraded:
            return await self.local.acquire(key, windows)
        keys = [self._key(key, "block")] + [self._key(key, f"w{w.seconds:g}") for w in windows]
        # Log members must be unique even for two calls in the same microsecond.
        args: list[str | int] = [f"{self._nonce}:{next(self._calls)}"]
        for w in windows:
            args += [w.limit, round(w.seconds * _US)]
        try:
            allowed, wait_us, remaining, blocked = await self._acquire(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._failed("acquire", exc)
            return await self.local.acquire(key, windows)
        self._recovered()
        return Decision(bool(allowed), int(wait_us) / _US, max(int(remaining), 0), bool(blocked))

    async def take(self, key: str, *, rate_per_s: float, burst: int) -> Decision:
        """Take a token from ``key``'s bucket: ``burst`` tokens, refilled at ``rate_per_s``."""
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate_per_s > 0 and burst >= 1")
        if self.degraded:
            return await self.local.take(key, rate_per_s=rate_per_s, burst=burst)
        try:
            allowed, wait_us, remaining = await self._take(
                keys=[self._key(key, "tb")], args=[round(_US / rate_per_s), burst]
            )
        except (RedisError, OSError) as exc:
            self._failed("take", exc)
            return await self.local.take(key, rate_per_s=rate_per_s, burst=burst)
        self._recovered()
        return Decision(bool(allowed), int(wait_us) / _US, max(int(remaining), 0))

    async def block(self, key: str, seconds: float) -> None:
        """Refuse every :meth:`acquire` of ``key`` for ``seconds`` (extends, never shortens)."""
        # Recorded locally too, so the block survives Redis going down meanwhile.
        await self.local.block(key, seconds)
        if self.degraded:
            return
        try:
            await self._block(keys=[self._key(key, "block")], args=[max(1, math.ceil(seconds * 1000))])
        except (RedisError, OSError) as exc:
            self._failed("block", exc)
            return
        self._recovered()

    async def close(self) -> None:
        try:
            await self._redis.aclose()
        except (RedisError, OSError):
            pass

    def _key(self, key: str, suffix: str) -> str:
        return f"{self._prefix}{{{key}}}:{suffix}"

    def _failed(self, op: str, exc: BaseException) -> None:
        was_up = self._down_until == 0.0
        self._down_until = time.monotonic() + self._down_for_s
        if was_up:
            log.warning(
                "limits.degraded",
                op=op,
                error=f"{type(exc).__name__}: {exc}",
                url=self._where,
                fallback="in-process limits (per process, not global)",
                retry_in_s=self._down_for_s,
            )

    def _recovered(self) -> None:
        if self._down_until != 0.0:
            self._down_until = 0.0
            log.info("limits.recovered", url=self._where)


def _window_key(key: str, window: Window) -> str:
    return f"{key}:w{window.seconds:g}"


def _redacted(url: str) -> str:
    """``host:port/db`` of a Redis URL, without credentials (for logs)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path}"
