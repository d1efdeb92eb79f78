"""``anime-review-tasks`` in DynamoDB: idempotent creation, listing by status, decisions.

Every state change is one conditional write, so concurrent reviewers and redelivered
requests cannot step on each other:

- :meth:`ReviewTaskStore.create` writes only if the task does not exist yet;
- :meth:`ReviewTaskStore.claim` moves ``pending`` → ``approving``/``rejecting`` for one
  reviewer (a claim left behind by a crashed process can be taken over once it is older
  than ``stale_after_s``); everyone else gets :class:`TaskTaken`;
- :meth:`ReviewTaskStore.finish` / :meth:`ReviewTaskStore.release` apply only while the
  caller's claim is the current one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from avs_api.review.model import ReviewTask, TaskStatus, iso, utc_now
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_codec import from_item, to_attribute, to_item
from avs_shared.adapters.dynamo_table import DynamoTable
from avs_shared.errors import Conflict, NotFound
from avs_shared.events import ReviewKind
from avs_shared.topology import GSI_REVIEW_STATUS, T_REVIEW_TASKS

_MAX_PAGE = 200


class TaskTaken(Conflict):
    """Another reviewer decided (or is deciding) this task; the message says who and what."""

    def __init__(self, message: str, task: ReviewTask | None) -> None:
        super().__init__(message)
        self.task = task


class InvalidCursor(ValueError):
    """A list cursor that this store did not hand out."""


@dataclass(frozen=True)
class TaskPage:
    tasks: list[ReviewTask]
    next_cursor: str | None


class ReviewTaskStore:
    """The review tasks of ``anime-review-tasks`` (key ``task_id``, GSI ``status-index``)."""

    def __init__(self, aws: AwsClients, *, table: str = T_REVIEW_TASKS, stale_after_s: int = 300) -> None:
        self._table = DynamoTable(aws, table)
        self._stale_after = timedelta(seconds=stale_after_s)

    async def create(self, task: ReviewTask) -> bool:
        """Store a new task; False (and no write) when a task with its id already exists."""
        try:
            await self._table.call(
                "put_item",
                TableName=self._table.name,
                Item=to_item(task.to_document()),
                ConditionExpression="attribute_not_exists(task_id)",
            )
        except Conflict:
            return False
        return True

    async def replace_token(self, task_id: str, token: str) -> bool:
        """Give a still-pending task a new task token (the state machine re-sent its request);
        False when the task is no longer pending or already has this token."""
        try:
            await self._table.call(
                "update_item",
                TableName=self._table.name,
                Key={"task_id": {"S": task_id}},
                UpdateExpression="SET task_token = :t",
                ConditionExpression="#s = :pending AND task_token <> :t",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":t": {"S": token}, ":pending": {"S": TaskStatus.PENDING.value}},
            )
        except Conflict:
            return False
        return True

    async def get(self, task_id: str) -> ReviewTask | None:
        resp = await self._table.call(
            "get_item", TableName=self._table.name, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        )
        item = resp.get("Item")
        return ReviewTask.from_document(from_item(item)) if item else None

    async def require(self, task_id: str) -> ReviewTask:
        task = await self.get(task_id)
        if task is None:
            raise NotFound(f"no review task {task_id}; it may have been listed under another id")
        return task

    async def list(
        self,
        status: TaskStatus = TaskStatus.PENDING,
        *,
        kinds: Sequence[ReviewKind] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> TaskPage:
        """Tasks in ``status``, oldest first, optionally only of ``kinds``.

        ``cursor`` is the ``next_cursor`` of the previous page.

        Raises
        ------
        InvalidCursor
            ``cursor`` was not handed out by this method.
        """
        limit = max(1, min(limit, _MAX_PAGE))
        kwargs: dict[str, Any] = {
            "TableName": self._table.name,
            "IndexName": GSI_REVIEW_STATUS,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": status.value}},
            "ScanIndexForward": True,
        }
        if kinds:
            names = [f":k{i}" for i in range(len(kinds))]
            kwargs["FilterExpression"] = f"#k IN ({', '.join(names)})"
            kwargs["ExpressionAttributeNames"]["#k"] = "kind"
            for name, kind in zip(names, kinds, strict=True):
                kwargs["ExpressionAttributeValues"][name] = {"S": kind.value}
        if cursor:
            kwargs["ExclusiveStartKey"] = _decode_cursor(cursor, status)
        tasks: list[ReviewTask] = []
        while True:
            # A filter applies after Limit, so ask for a little more than is missing.
            resp = await self._table.call("query", **kwargs, Limit=min(_MAX_PAGE, limit - len(tasks) + 1))
            for item in resp.get("Items", []):
                tasks.append(ReviewTask.from_document(from_item(item)))
                if len(tasks) == limit:
                    # Resume after the last task returned, not after the page DynamoDB read.
                    more = item is not resp["Items"][-1] or bool(resp.get("LastEvaluatedKey"))
                    return TaskPage(tasks, _encode_cursor(tasks[-1]) if more else None)
            last = resp.get("LastEvaluatedKey")
            if not last:
                return TaskPage(tasks, None)
            kwargs["ExclusiveStartKey"] = last

    async def claim(self, task_id: str, *, action: TaskStatus, by: str, claim_id: str) -> ReviewTask:
        """Take the task for a decision (``action``: approving or rejecting).

        Raises
        ------
        TaskTaken
            The task is not pending (decided, expired, or another reviewer is deciding).
        NotFound
            No such task.
        """
        assert action in (TaskStatus.APPROVING, TaskStatus.REJECTING)
        now = utc_now()
        try:
            resp = await self._table.call(
                "update_item",
                TableName=self._table.name,
                Key={"task_id": {"S": task_id}},
                UpdateExpression="SET #s = :action, claim_id = :c, claimed_by = :by, claimed_at = :now",
                ConditionExpression=(
                    "attribute_exists(task_id) AND (#s = :pending OR "
                    "((#s = :approving OR #s = :rejecting) AND claimed_at < :stale))"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":action": {"S": action.value},
                    ":c": {"S": claim_id},
                    ":by": {"S": by},
                    ":now": {"S": iso(now)},
                    ":stale": {"S": iso(now - self._stale_after)},
                    ":pending": {"S": TaskStatus.PENDING.value},
                    ":approving": {"S": TaskStatus.APPROVING.value},
                    ":rejecting": {"S": TaskStatus.REJECTING.value},
                },
                ReturnValues="ALL_NEW",
            )
        except Conflict:
            current = await self.require(task_id)
            raise TaskTaken(taken_message(current), current) from None
        return ReviewTask.from_document(from_item(resp["Attributes"]))

    async def expire(self, task_id: str, reason: str) -> bool:
        """Close a pending task whose token Step Functions no longer accepts; False if it is
        not pending any more."""
        try:
            await self._table.call(
                "update_item",
                TableName=self._table.name,
                Key={"task_id": {"S": task_id}},
                UpdateExpression="SET #s = :expired, decided_at = :now, decision_reason = :why",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":expired": {"S": TaskStatus.EXPIRED.value},
                    ":pending": {"S": TaskStatus.PENDING.value},
                    ":now": {"S": iso(utc_now())},
                    ":why": {"S": reason},
                },
            )
        except Conflict:
            return False
        return True

    async def finish(self, task_id: str, claim_id: str, status: TaskStatus, **fields: Any) -> ReviewTask:
        """Record the outcome of the caller's claim (``fields``: decided_by, ...)."""
        given = {key: value for key, value in fields.items() if value is not None}
        values = {"status": status.value, "decided_at": iso(utc_now()), **given}
        return await self._update_claimed(task_id, claim_id, values, remove=("claim_id",))

    async def release(self, task_id: str, claim_id: str) -> None:
        """Give the task back (the decision could not be delivered; nothing was sent)."""
        await self._update_claimed(
            task_id,
            claim_id,
            {"status": TaskStatus.PENDING.value},
            remove=("claim_id", "claimed_by", "claimed_at"),
        )

    async def _update_claimed(
        self, task_id: str, claim_id: str, values: dict[str, Any], *, remove: Sequence[str]
    ) -> ReviewTask:
        names = {f"#f{i}": key for i, key in enumerate(values)}
        sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(values)))
        attr_values = {f":v{i}": to_attribute(v) for i, v in enumerate(values.values())}
        attr_values[":c"] = {"S": claim_id}
        removed = [f"#r{i}" for i in range(len(remove))]
        names.update({f"#r{i}": key for i, key in enumerate(remove)})
        update = f"SET {sets}" + (f" REMOVE {', '.join(removed)}" if removed else "")
        try:
            resp = await self._table.call(
                "update_item",
                TableName=self._table.name,
                Key={"task_id": {"S": task_id}},
                UpdateExpression=update,
                ConditionExpression="claim_id = :c",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
                ReturnValues="ALL_NEW",
            )
        except Conflict:
            current = await self.require(task_id)
            raise TaskTaken(taken_message(current), current) from None
        return ReviewTask.from_document(from_item(resp["Attributes"]))


def taken_message(task: ReviewTask) -> str:
    """Why a reviewer cannot act on ``task`` any more, in words."""
    who = task.decided_by or task.claimed_by or "another reviewer"
    if task.status is TaskStatus.APPROVED:
        return f"this task was already approved by {who} at {task.decided_at}; nothing was sent"
    if task.status is TaskStatus.REJECTED:
        return f"this task was already rejected by {who} at {task.decided_at}; nothing was sent"
    if task.status is TaskStatus.EXPIRED:
        return f"this task expired ({task.decision_reason or 'the review timed out'}); nothing was sent"
    if task.status in (TaskStatus.APPROVING, TaskStatus.REJECTING):
        doing = "approving" if task.status is TaskStatus.APPROVING else "rejecting"
        return f"{who} is {doing} this task right now; reload in a moment to see the outcome"
    return "this task changed while you were deciding; reload it and try again"


def _encode_cursor(task: ReviewTask) -> str:
    raw = json.dumps({"t": task.task_id, "c": task.created_at}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, status: TaskStatus) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
        task_id, created_at = str(doc["t"]), str(doc["c"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("the cursor is not one this API handed out; start from the first page") from exc
    return {
        "task_id": {"S": task_id},
        "status": {"S": status.value},
        "created_at": {"S": created_at},
    }
