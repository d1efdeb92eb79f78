"""Step Functions task callbacks: answer a waiting ``waitForTaskToken`` task.

``SendTaskSuccess`` resumes the execution with an output; ``SendTaskFailure`` fails the
task with an error the state machine catches. A token that Step Functions no longer
accepts (the task timed out, the execution ended, or the token is not one) raises
:class:`TokenNotAccepted`, whose message says which, after asking the execution's
status where it can.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.errors import AvsError, Retryable

log = structlog.get_logger(__name__)

_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
_MAX_CAUSE = 32_768  # SendTaskFailure's limit on cause


class TokenNotAccepted(AvsError):
    """Step Functions refused the task token: the review can no longer be answered.

    Attributes
    ----------
    code:
        ``TaskTimedOut``, ``InvalidToken`` or ``TaskDoesNotExist``.
    execution_status:
        The execution's status when it could be read (``RUNNING``, ``SUCCEEDED``, ...).
    """

    def __init__(self, message: str, *, code: str, execution_status: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.execution_status = execution_status


class TaskCallbacks:
    """``SendTaskSuccess`` / ``SendTaskFailure`` through the shared Step Functions client."""

    def __init__(self, aws: AwsClients) -> None:
        self._aws = aws

    async def succeed(self, token: str, output: dict[str, Any], *, execution_arn: str | None) -> None:
        """Resume the task with ``output`` (a JSON object)."""
        await self._call(
            "send_task_success",
            execution_arn,
            taskToken=token,
            output=json.dumps(output, separators=(",", ":"), ensure_ascii=False),
        )

    async def fail(self, token: str, *, error: str, cause: str, execution_arn: str | None) -> None:
        """Fail the task with ``error`` (the state machine's ``Catch`` matches it) and ``cause``."""
        await self._call(
            "send_task_failure", execution_arn, taskToken=token, error=error, cause=cause[:_MAX_CAUSE]
        )

    async def heartbeat(self, token: str, *, execution_arn: str | None) -> None:
        """Tell the waiting task that its review is still pending (``HeartbeatSeconds``)."""
        await self._call("send_task_heartbeat", execution_arn, taskToken=token)

    async def execution_status(self, execution_arn: str) -> str | None:
        """The execution's status, or None when it cannot be read."""
        try:
            sfn = await self._aws.client("stepfunctions")
            resp = await sfn.describe_execution(executionArn=execution_arn)
        except (ClientError, BotoCoreError, OSError) as exc:
            log.info("review.execution_status_unknown", execution_arn=execution_arn, error=repr(exc))
            return None
        return str(resp.get("status") or "") or None

    async def _call(self, operation: str, execution_arn: str | None, **kwargs: Any) -> None:
        sfn = await self._aws.client("stepfunctions")
        try:
            await getattr(sfn, operation)(**kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if code in _TOKEN_ERRORS:
                status = await self.execution_status(execution_arn) if execution_arn else None
                raise TokenNotAccepted(
                    _token_message(code, status), code=code, execution_status=status
                ) from exc
            if code in {"ThrottlingException", "ServiceUnavailable", "InternalFailure"}:
                raise Retryable(f"Step Functions is busy ({code}); try again", retry_after_s=2) from exc
            raise
        except (BotoCoreError, OSError) as exc:
            raise Retryable(f"Step Functions is unreachable ({type(exc).__name__}); try again") from exc


def _token_message(code: str, status: str | None) -> str:
    if code == "TaskTimedOut" or status == "TIMED_OUT":
        why = "the review waited longer than the state machine allows and timed out"
    elif status in {"SUCCEEDED", "FAILED", "ABORTED"}:
        why = f"its Step Functions execution already ended ({status})"
    else:
        why = "Step Functions no longer knows its task token (the review timed out or was already answered)"
    return f"this review can no longer be answered: {why}. Nothing was sent; the task is closed as expired."
