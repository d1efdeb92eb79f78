"""One factory for every AWS client (aiobotocore).

Endpoints come from the standard ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``
environment variables, which botocore reads itself: the moto server, LocalStack and
AWS differ by configuration only.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

from aiobotocore.client import AioBaseClient
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from avs_shared.adapters import dynamo_wire
from avs_shared.settings import ServiceSettings


def error_code(exc: ClientError) -> str:
    """The AWS error code of ``exc`` (``"ConditionalCheckFailedException"``, ...); ``""`` if none."""
    return str(exc.response.get("Error", {}).get("Code", ""))


class AwsClients:
    """Long-lived aiobotocore clients, one per AWS service, closed together.

    Use as ``async with AwsClients(settings) as aws: sqs = await aws.client("sqs")``.
    """

    def __init__(self, settings: ServiceSettings, *, max_pool_connections: int = 64) -> None:
        self._settings = settings
        self._session = get_session()
        self._config = AioConfig(
            region_name=settings.aws_region,
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=max_pool_connections,
            connect_timeout=10,
            read_timeout=70,  # above the 20 s SQS long poll
            # Client-side validation walks every nested attribute value of a request
            # (4 ms of CPU per entry written, as much as the HTTP call); the services
            # validate the same requests and answer ValidationException.
            parameter_validation=False,
        )
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[str, AioBaseClient] = {}
        self._lock = asyncio.Lock()

    @property
    def region(self) -> str:
        return self._settings.aws_region

    async def client(self, service: str) -> AioBaseClient:
        """The shared client for ``service`` (``"sqs"``, ``"dynamodb"``, ...), created on first use."""
        found = self._clients.get(service)
        if found is not None:
            return found
        async with self._lock:
            found = self._clients.get(service)
            if found is None:
                ctx = self._session.create_client(service, config=self._config)
                found = await self._stack.enter_async_context(ctx)
                if service == "dynamodb":
                    dynamo_wire.install(found)  # codec items go out as they are
                self._clients[service] = found
            return found

    async def close(self) -> None:
        self._clients.clear()
        await self._stack.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
