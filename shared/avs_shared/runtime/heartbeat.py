"""Visibility heartbeats: keep a message hidden while its handler still runs.

Every ``visibility_timeout / 3`` the heartbeat sets the message's visibility back
to the full timeout (and renews the idempotency lease, when the store can), so a
handler may run longer than the queue's visibility timeout without another
consumer receiving the same message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType

import structlog
from aiobotocore.client import AioBaseClient

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)


class VisibilityHeartbeat:
    """An async context manager that extends one message's visibility until it exits.

    Parameters
    ----------
    sqs:
        The SQS client.
    queue_url, receipt_handle:
        The message.
    visibility_timeout_s:
        The queue's visibility timeout; 0 disables the heartbeat.
    interval_s:
        Time between beats; ``visibility_timeout_s / 3`` by default.

    Exiting waits for a beat in flight to finish, so nothing changes the
    message's visibility after the runtime's own final delete or visibility change.
    """

    def __init__(
        self,
        sqs: AioBaseClient,
        queue_url: str,
        receipt_handle: str,
        visibility_timeout_s: int,
        *,
        interval_s: float | None = None,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._receipt = receipt_handle
        self._timeout_s = visibility_timeout_s
        self._interval_s = interval_s if interval_s is not None else visibility_timeout_s / 3
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.renew: Callable[[], Awaitable[None]] | None = None
        self.beats = 0

    async def __aenter__(self) -> VisibilityHeartbeat:
        if self._timeout_s > 0 and self._interval_s > 0:
            self._task = asyncio.create_task(self._run(), name=f"heartbeat:{self._receipt[:12]}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopped.set()
        if self._task is not None:
            # Shielded: if the surrounding task is being cancelled we still wait for a
            # beat in flight, then the cancellation goes on.
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=self._interval_s)
            if self._stopped.is_set():
                return
            try:
                await self._sqs.change_message_visibility(
                    QueueUrl=self._url, ReceiptHandle=self._receipt, VisibilityTimeout=self._timeout_s
                )
                self.beats += 1
                if self.renew is not None:
                    await self.renew()
            except Exception as exc:  # a lost heartbeat is worth a warning, never a crash
                log.warning("heartbeat.failed", queue_url=self._url, error=f"{type(exc).__name__}: {exc}")
