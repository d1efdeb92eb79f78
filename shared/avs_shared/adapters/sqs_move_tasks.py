"""SQS message move tasks (``StartMessageMoveTask``): a DLQ redriven by SQS itself.

AWS (and LocalStack) move a dead-letter queue's messages back to their source queue
server-side; moto does not implement the call (it answers HTTP 500). The calls here
use a client of their own that makes a single attempt, so an endpoint without the
operation is detected at once (the shared clients would retry a 500 five times) and
the caller falls back to moving messages one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from avs_shared.adapters.aws import AwsClients, error_code

FINISHED = frozenset({"COMPLETED", "CANCELLED", "FAILED"})


class MoveTaskUnavailable(Exception):
    """The endpoint cannot run a move task for this queue; the message says why."""


@dataclass(frozen=True)
class MoveTaskStatus:
    handle: str | None
    status: str
    moved: int
    to_move: int
    failure_reason: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class SqsMoveTasks:
    """Starts and watches move tasks; every call is one attempt (no SDK retries)."""

    def __init__(self, aws: AwsClients) -> None:
        self._config = AioConfig(region_name=aws.region, retries={"total_max_attempts": 1})

    async def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        async with get_session().create_client("sqs", config=self._config) as sqs:
            try:
                resp: dict[str, Any] = await getattr(sqs, operation)(**kwargs)
            except ClientError as exc:
                message = exc.response.get("Error", {}).get("Message", "")
                if "<html" in message.lower():  # an emulator's error page, not an SQS error
                    message = "the endpoint does not implement it"
                raise MoveTaskUnavailable(f"{operation}: {error_code(exc) or 'error'}: {message}") from exc
            except BotoCoreError as exc:
                raise MoveTaskUnavailable(f"{operation}: {exc}") from exc
        return resp

    async def start(self, source_arn: str, destination_arn: str) -> str:
        """Start moving every message of ``source_arn`` (a DLQ) to ``destination_arn``."""
        resp = await self._call(
            "start_message_move_task", SourceArn=source_arn, DestinationArn=destination_arn
        )
        return str(resp.get("TaskHandle", ""))

    async def status(self, source_arn: str, handle: str | None = None) -> MoveTaskStatus:
        """The task ``handle`` of ``source_arn`` (its most recent one when None)."""
        resp = await self._call("list_message_move_tasks", SourceArn=source_arn, MaxResults=10)
        results = resp.get("Results") or []
        found = next((r for r in results if handle is None or r.get("TaskHandle") == handle), None)
        if found is None:
            found = results[0] if results else {}
        return MoveTaskStatus(
            handle=found.get("TaskHandle"),
            status=str(found.get("Status", "UNKNOWN")),
            moved=int(found.get("ApproximateNumberOfMessagesMoved") or 0),
            to_move=int(found.get("ApproximateNumberOfMessagesToMove") or 0),
            failure_reason=found.get("FailureReason"),
        )
