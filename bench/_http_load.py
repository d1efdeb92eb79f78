"""A lean HTTP/1.1 load generator: keep-alive connections, ``GET`` only, httptools parsing.

The benchmark's client shares the 2 cores with the server, so it must cost little
per request: each connection is an ``asyncio.Protocol`` writing a pre-built request
and feeding the answer to ``httptools.HttpResponseParser``, about a tenth of the CPU of
a general-purpose client per request. It is still a real client over loopback TCP:
full HTTP/1.1 framing, every byte of every body read.

:func:`run_load` drives ``concurrency`` connections, each sending its next request as
soon as the previous answer is complete (a closed loop), for a time budget or a number
of requests, and records each request's latency (request written → body complete).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httptools


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._done: asyncio.Future[tuple[int, int]] | None = None
        self._size = 0
        self.lost = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(exc or ConnectionError("the server closed the connection"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._size += len(body)

    def on_message_complete(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result((self._parser.get_status_code(), self._size))

    def _fail(self, exc: BaseException) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)

    async def get(self, target: str, timeout_s: float) -> tuple[int, int]:
        """(status, body bytes) of ``GET target``; ConnectionError if the connection is gone."""
        assert self._transport is not None
        if self.lost or self._transport.is_closing():
            raise ConnectionError("the connection was closed")
        self._done = asyncio.get_running_loop().create_future()
        self._size = 0
        self._transport.write(
            f"GET {target} HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n\r\n".encode()
        )
        return await asyncio.wait_for(self._done, timeout_s)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _connect(host: str, port: int) -> _Connection:
    _, protocol = await asyncio.get_running_loop().create_connection(_Connection, host, port)
    return protocol


@dataclass
class LoadResult:
    """What one load run measured."""

    concurrency: int
    seconds: float
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    bytes: int = 0
    reconnects: int = 0  # connections the server closed, opened again (the request retried once)

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1e3

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_s) * 1e3

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(0.99)


async def run_load(
    host: str,
    port: int,
    next_target: Callable[[], str],
    *,
    concurrency: int,
    budget_s: float,
    max_requests: int,
    warmup: int = 0,
    timeout_s: float = 60.0,
) -> LoadResult:
    """``concurrency`` connections asking ``next_target()`` in a closed loop for ``budget_s``.

    ``warmup`` requests per connection are sent first and not counted.
    """
    connections = [await _connect(host, port) for _ in range(concurrency)]
    try:

        async def warm(connection: _Connection) -> None:
            for _ in range(warmup):
                await connection.get(next_target(), timeout_s)

        await asyncio.gather(*(warm(c) for c in connections))
        result = LoadResult(concurrency, 0.0)
        started = time.perf_counter()
        deadline = started + budget_s

        async def worker(slot: int) -> None:
            while time.perf_counter() < deadline and len(result.latencies_s) < max_requests:
                target = next_target()
                t0 = time.perf_counter()
                try:
                    status, size = await connections[slot].get(target, timeout_s)
                except ConnectionError:
                    # A keep-alive connection the server closed: what any client does, once.
                    connections[slot].close()
                    connections[slot] = await _connect(host, port)
                    result.reconnects += 1
                    t0 = time.perf_counter()
                    status, size = await connections[slot].get(target, timeout_s)
                result.latencies_s.append(time.perf_counter() - t0)
                result.statuses[status] += 1
                result.bytes += size

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        result.seconds = time.perf_counter() - started
        return result
    finally:
        for connection in connections:
            connection.close()
