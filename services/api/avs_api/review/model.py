"""The review task record kept in ``anime-review-tasks``, and the kind filters of the list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from avs_shared.events import ReviewKind, TraceContext


class TaskStatus(StrEnum):
    """Lifecycle of a task.

    ``pending`` → (a reviewer acts) ``approving`` / ``rejecting`` → ``approved`` /
    ``rejected``; ``expired`` when Step Functions no longer accepts the task token
    (the review timed out or the execution ended). The two transient states exist so
    that exactly one reviewer wins a task: the move out of ``pending`` is one
    conditional write.
    """

    PENDING = "pending"
    APPROVING = "approving"
    REJECTING = "rejecting"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


FINAL_STATUSES = frozenset({TaskStatus.APPROVED, TaskStatus.REJECTED, TaskStatus.EXPIRED})


class TaskSource(StrEnum):
    """Who asked for the review: decides how a decision is delivered."""

    STEP_FUNCTIONS = "stepfunctions"  # answer with SendTaskSuccess / SendTaskFailure
    SYNC = "sync"  # approve by publishing entry-approved; reject by recording it


KIND_FILTERS: dict[str, tuple[ReviewKind, ...]] = {
    "new": (ReviewKind.NEW,),
    "status_changed": (ReviewKind.STATUS_CHANGED,),
    "missing_episodes": (ReviewKind.MISSING_EPISODES,),
    "merge_split": (ReviewKind.MERGE, ReviewKind.SPLIT),
    "episode_update": (ReviewKind.EPISODE_UPDATE,),
}
"""The list page's kind filter: its value → the task kinds it shows."""

KIND_LABELS: dict[str, str] = {
    "new": "New anime",
    "status_changed": "Changed status",
    "missing_episodes": "Missing episodes",
    "merge_split": "Merge / split",
    "episode_update": "Episode update",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime) -> str:
    """UTC ISO 8601 with ``Z`` and microseconds: sorts as text (the GSI range key)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ReviewTask(BaseModel):
    """One review task.

    Attributes
    ----------
    task_id:
        Deterministic: derived from the execution ARN (Step Functions) or from the
        request's ``event_id`` (sync), so a redelivered request finds its task.
    entry_ref:
        S3 key of the proposed entry (Step Functions, and sync requests that carry
        one); None when the reviewer edits the live entry.
    details:
        What the producer said about the case (sync: the offline values).
    task_token, execution_arn:
        Step Functions only: the token to answer and the waiting execution.
    request:
        The state machine's request as received (kept for the record).
    claim_id, claimed_by, claimed_at:
        The decision in progress (``approving`` / ``rejecting``).
    decided_by, decided_at, decision_reason:
        The outcome; ``decision_reason`` is the rejection reason or why it expired.
    approved_entry_ref, approved_event_id, base_version:
        What an approval sent: the edited entry's S3 key, the ``entry-approved`` event
        id and the live version the reviewer saw (0: the anime was new).
    """

    model_config = ConfigDict(extra="ignore")

    task_id: str
    source: TaskSource
    kind: ReviewKind
    anime_id: str
    status: TaskStatus = TaskStatus.PENDING
    created_at: str = Field(description="UTC ISO 8601 (the GSI range key)")
    title: str | None = None
    reason: str = ""
    entry_ref: str | None = None
    details: dict[str, JsonValue] = Field(default_factory=dict)
    task_token: str | None = None
    execution_arn: str | None = None
    request: dict[str, JsonValue] = Field(default_factory=dict)
    correlation_id: str
    trace: TraceContext = Field(default_factory=TraceContext)
    request_event_id: str
    claim_id: str | None = None
    claimed_by: str | None = None
    claimed_at: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = None
    approved_entry_ref: str | None = None
    approved_event_id: str | None = None
    base_version: int | None = None

    @property
    def kind_filter(self) -> str:
        return next((name for name, kinds in KIND_FILTERS.items() if self.kind in kinds), self.kind.value)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind_filter, self.kind.value)

    @property
    def is_open(self) -> bool:
        return self.status is TaskStatus.PENDING

    def to_document(self) -> dict[str, Any]:
        """The DynamoDB document: ``details`` and ``request`` as JSON text (their keys are
        provider data, and DynamoDB map keys cannot be empty)."""
        doc = self.model_dump(mode="json", exclude_none=True)
        doc["details"] = json.dumps(self.details, ensure_ascii=False)
        doc["request"] = json.dumps(self.request, ensure_ascii=False)
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ReviewTask:
        data = dict(doc)
        for key in ("details", "request"):
            if isinstance(data.get(key), str):
                data[key] = json.loads(data[key])
        return cls.model_validate(data)

    def public(self) -> dict[str, Any]:
        """The task as API clients see it (no task token: it is a credential)."""
        doc = self.model_dump(mode="json", exclude_none=True, exclude={"task_token", "claim_id"})
        doc["kind_filter"] = self.kind_filter
        return doc
