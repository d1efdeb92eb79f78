"""Merging the small DynamoDB calls of concurrent events into batch calls.

Every ``image-requested`` event makes three small calls of its own: a ``BatchGetItem`` of
its URLs in the dedup map, a ``BatchWriteItem`` of the URLs it stored, and a read of its
entry. With many events in flight those calls cost more CPU (signing, HTTP, parsing)
than the work they carry, so a :class:`Batcher` merges them: a call takes everything
asked for until then (up to ``max_batch`` keys); what is asked for while it runs waits
for the next call.

A caller's keys always go into a call that starts after it asked, so a read submitted
after a write completed sees that write, exactly as a call of its own would. A key
asked for twice before its call starts is sent once. A batch that fails with
:class:`~avs_shared.errors.Retryable` (throttled, unreachable) fails all its callers;
any other failure splits it, each key tried alone, so one bad key fails only the
callers that asked for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

from avs_shared.errors import Retryable

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a failure as seen even if its caller went away (no "never retrieved" warnings)."""
    if not future.cancelled():
        future.exception()


class Batcher(Generic[K, V, R]):
    """Requests of concurrent callers, merged into calls of ``run``.

    Parameters
    ----------
    run:
        One batch call: ``{key: value}`` in, ``{key: result}`` out (a key left out of
        the result reads as None).
    max_batch:
        At most this many keys per call (100 for ``BatchGetItem``, 25 for
        ``BatchWriteItem``).
    parallel:
        At most this many calls at once.

    Attributes
    ----------
    calls:
        Calls of ``run`` made so far.
    """

    def __init__(
        self,
        run: Callable[[dict[K, V]], Awaitable[Mapping[K, R]]],
        *,
        max_batch: int,
        parallel: int = 1,
    ) -> None:
        if max_batch < 1 or parallel < 1:
            raise ValueError("max_batch and parallel must be at least 1")
        self._run = run
        self._max_batch = max_batch
        self._parallel = parallel
        self._pending: dict[K, tuple[V, asyncio.Future[R | None]]] = {}
        self._flushers = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.calls = 0

    async def submit(self, requests: Mapping[K, V]) -> dict[K, R]:
        """The results of ``requests`` (keys without a result left out), from one or more
        batch calls; raises what the call of a key raised."""
        loop = asyncio.get_running_loop()
        futures: dict[K, asyncio.Future[R | None]] = {}
        for key, value in requests.items():
            queued = self._pending.get(key)
            if queued is None:
                future: asyncio.Future[R | None] = loop.create_future()
                future.add_done_callback(_consume)
                queued = self._pending[key] = (value, future)
            futures[key] = queued[1]
        if futures and self._flushers < self._parallel:
            self._flushers += 1
            task = asyncio.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if futures:
            # wait, not gather: a caller cancelled here must not cancel a future shared with others
            await asyncio.wait(set(futures.values()))
        found: dict[K, R] = {}
        for key, future in futures.items():
            result = future.result()
            if result is not None:
                found[key] = result
        return found

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # let the callers of this loop turn join the first call
            while self._pending:
                keys = list(self._pending)[: self._max_batch]
                batch = {key: self._pending.pop(key) for key in keys}
                await self._call(batch)
        finally:
            self._flushers -= 1

    async def _call(self, batch: dict[K, tuple[V, asyncio.Future[R | None]]]) -> None:
        self.calls += 1
        try:
            results = await self._run({key: value for key, (value, _) in batch.items()})
        except asyncio.CancelledError:
            self._fail(batch, Retryable("the batch call was interrupted; try again", retry_after_s=1))
            raise
        except Retryable as exc:  # throttled or unreachable: splitting would only add load
            self._fail(batch, exc)
            return
        except Exception as exc:
            if len(batch) > 1:  # a bad key? each key alone, so it fails only its own callers
                await asyncio.gather(*(self._call({key: queued}) for key, queued in batch.items()))
            else:
                self._fail(batch, exc)
            return
        for key, (_, future) in batch.items():
            if not future.done():
                future.set_result(results.get(key))

    @staticmethod
    def _fail(batch: dict[K, tuple[V, asyncio.Future[R | None]]], exc: BaseException) -> None:
        for _, future in batch.values():
            if not future.done():
                future.set_exception(exc)
