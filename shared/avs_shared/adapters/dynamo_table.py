"""Calls on one DynamoDB table: errors translated, pages followed, batch leftovers retried.

:class:`DynamoTable` is the call layer under
:class:`~avs_shared.adapters.dynamo_entries.DynamoEntryStore`:

- every call's botocore error becomes an :mod:`avs_shared.errors` one
  (``ConditionalCheckFailedException`` → :class:`Conflict`, throttling and 5xx →
  :class:`Retryable`, validation → :class:`Permanent`; others are re-raised as is);
- ``BatchGetItem`` / ``BatchWriteItem`` retry their unprocessed keys or items a
  bounded number of times (exponential backoff with full jitter), then raise
  :class:`Retryable`;
- :meth:`DynamoTable.parallel_scan` runs one task per segment and merges what they find.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.adapters.dynamo_codec import Item
from avs_shared.errors import AvsError, Conflict, Permanent, Retryable

T = TypeVar("T")

_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
_PERMANENT_CODES = frozenset({"ValidationException", "ResourceNotFoundException", "SerializationException"})


class DynamoTable:
    """One table's DynamoDB calls, through the shared client of ``aws``.

    Parameters
    ----------
    aws:
        The client factory (the client is looked up on every call).
    name:
        The table name.
    max_batch_attempts, backoff_base_s:
        Bounded retries of unprocessed batch keys/items; after the last one a
        :class:`Retryable` is raised.
    """

    def __init__(
        self, aws: AwsClients, name: str, *, max_batch_attempts: int = 8, backoff_base_s: float = 0.05
    ) -> None:
        self._aws = aws
        self.name = name
        self._max_attempts = max(max_batch_attempts, 1)
        self._backoff_base_s = backoff_base_s

    async def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """``client.<operation>(**kwargs)`` with its errors translated."""
        ddb = await self._aws.client("dynamodb")
        try:
            resp: dict[str, Any] = await getattr(ddb, operation)(**kwargs)
        except ClientError as exc:
            translated = _translate(exc, operation, self.name)
            if translated is None:
                raise
            raise translated from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            raise Retryable(f"dynamodb {operation} on {self.name}: {exc}", retry_after_s=5.0) from exc
        return resp

    async def pages(self, operation: str, kwargs: dict[str, Any]) -> AsyncIterator[Item]:
        """The items of a ``query`` or ``scan``, following ``LastEvaluatedKey``."""
        while True:
            resp = await self.call(operation, **kwargs)
            for item in resp.get("Items", []):
                yield item
            last = resp.get("LastEvaluatedKey")
            if not last:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": last}

    async def parallel_scan(
        self, base: dict[str, Any], segments: int, each: Callable[[Item], Awaitable[T | None]]
    ) -> AsyncGenerator[T, None]:
        """A scan in ``segments`` concurrent tasks, results merged as they arrive.

        ``each`` turns an item into a result (``None``: skip it) inside its segment's
        task; the first failure of any segment is raised here. Closing the iterator
        cancels the segments still running.
        """
        queue: asyncio.Queue[object] = asyncio.Queue(maxsize=max(256, segments))
        done = object()

        async def segment(number: int) -> None:
            try:
                async for item in self.pages("scan", {**base, "Segment": number}):
                    value = await each(item)
                    if value is not None:
                        await queue.put(value)
            except Exception as exc:  # handed to the consumer, which raises it
                await queue.put(_Failure(exc))
                return
            await queue.put(done)

        tasks = [asyncio.create_task(segment(n)) for n in range(segments)]
        try:
            finished = 0
            while finished < segments:
                got = await queue.get()
                if got is done:
                    finished += 1
                elif isinstance(got, _Failure):
                    raise got.exc
                else:
                    yield cast("T", got)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def batch_get(self, keys: list[Item], **request: Any) -> list[Item]:
        """``BatchGetItem`` of up to 100 ``keys`` (``request``: ``ConsistentRead``, projection)."""
        pending: dict[str, Any] = {self.name: {"Keys": keys, **request}}
        items: list[Item] = []
        for attempt in range(1, self._max_attempts + 1):
            resp = await self.call("batch_get_item", RequestItems=pending)
            items.extend(resp.get("Responses", {}).get(self.name, []))
            pending = resp.get("UnprocessedKeys") or {}
            if not pending:
                return items
            if attempt < self._max_attempts:
                await asyncio.sleep(self._backoff(attempt))
        left = len(pending.get(self.name, {}).get("Keys", []))
        raise Retryable(f"batch get on {self.name}: {left} keys still unprocessed", retry_after_s=5.0)

    async def batch_put(self, items: list[Item]) -> None:
        """``BatchWriteItem`` of up to 25 ``PutRequest`` s."""
        pending: dict[str, Any] = {self.name: [{"PutRequest": {"Item": i}} for i in items]}
        for attempt in range(1, self._max_attempts + 1):
            resp = await self.call("batch_write_item", RequestItems=pending)
            pending = resp.get("UnprocessedItems") or {}
            if not pending:
                return
            if attempt < self._max_attempts:
                await asyncio.sleep(self._backoff(attempt))
        left = len(pending.get(self.name, []))
        raise Retryable(f"batch write on {self.name}: {left} items still unprocessed", retry_after_s=5.0)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, capped at 5 s."""
        return random.uniform(0, min(5.0, self._backoff_base_s * 2 ** (attempt - 1)))


class _Failure:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc


def _translate(exc: ClientError, operation: str, table: str) -> AvsError | None:
    code = error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    what = f"dynamodb {operation} on {table}: {code}: {exc.response.get('Error', {}).get('Message', '')}"
    if code == "ConditionalCheckFailedException":
        return Conflict(what)
    if code in _RETRYABLE_CODES or status >= 500:
        return Retryable(what, retry_after_s=2.0)
    if code in _PERMANENT_CODES:
        return Permanent(what)
    return None
