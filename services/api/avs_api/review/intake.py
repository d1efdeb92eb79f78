"""The consumer of ``review-requests``: every request becomes one task in ``anime-review-tasks``.

Two message shapes arrive (see :mod:`avs_api.review`). A sync request is an ordinary
``review-request`` envelope. The state machine's message is not an envelope, so
:func:`adapt_state_machine_message` (the handler's raw adapter) wraps it in one whose
``event_id`` is derived from the task token: a redelivered message is a duplicate for
the runtime, and the task id (derived from the execution ARN) makes the write itself
idempotent as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import Field, ValidationError

from avs_api.review.model import ReviewTask, TaskSource, iso, utc_now
from avs_api.review.store import ReviewTaskStore
from avs_shared.errors import NotFound
from avs_shared.events import Envelope, ReviewRequest, TraceContext, derive_event_id
from avs_shared.ports.entries import EntryStore
from avs_shared.ports.storage import ObjectStore
from avs_shared.runtime.spec import MessageContext

log = structlog.get_logger(__name__)

INTAKE_HANDLER = "api-review-intake"


class ReviewIntake(ReviewRequest):
    """A ``review-request`` as the intake reads it.

    Sync requests fill only the :class:`ReviewRequest` fields; a state machine request
    also carries ``task_token``, ``execution_arn`` and the ``request`` as sent.
    """

    task_token: str | None = Field(default=None, min_length=1)
    execution_arn: str | None = None
    request: dict[str, Any] = Field(default_factory=dict)


def adapt_state_machine_message(text: str) -> Envelope | None:
    """The envelope of a ``waitForTaskToken`` message; None for anything else (an envelope).

    Raises
    ------
    ValueError
        The body has a ``task_token`` but is not a usable state machine request.
    """
    doc = json.loads(text)
    if not isinstance(doc, dict) or "task_token" not in doc or "event_type" in doc:
        return None
    token, request = doc.get("task_token"), doc.get("request")
    if not isinstance(token, str) or not token:
        raise ValueError("task_token must be a non-empty string")
    if not isinstance(request, dict):
        raise ValueError("the state machine message has no request object")
    execution_arn = doc.get("execution_arn")
    event_id = derive_event_id("review-task-token", hashlib.sha256(token.encode()).hexdigest())
    found_trace = request.get("trace")
    raw_trace: dict[str, Any] = found_trace if isinstance(found_trace, dict) else {}
    trace = TraceContext(
        traceparent=_str_or_none(raw_trace.get("traceparent")),
        tracestate=_str_or_none(raw_trace.get("tracestate")),
    )
    payload = {
        "anime_id": request.get("anime_id"),
        "kind": request.get("kind") or "new",
        "reason": request.get("reason") or "",
        "entry_ref": request.get("entry_ref"),
        "details": request.get("details") if isinstance(request.get("details"), dict) else {},
        "task_token": token,
        "execution_arn": execution_arn if isinstance(execution_arn, str) else None,
        "request": request,
    }
    return Envelope(
        event_id=event_id,
        event_type=ReviewIntake.EVENT_TYPE,
        occurred_at=datetime.now(UTC),
        correlation_id=_str_or_none(request.get("correlation_id")) or event_id,
        trace=trace,
        payload=payload,
    )


def execution_task_id(execution_arn: str) -> str:
    """The task of a waiting ``enrichment-review`` execution: one per execution."""
    return derive_event_id("review-task", "stepfunctions", execution_arn)


def request_task_id(event_id: str) -> str:
    """The task of a sync ``review-request``: one per request."""
    return derive_event_id("review-task", "sync", event_id)


def task_id_for(payload: ReviewIntake, envelope: Envelope) -> str:
    if payload.task_token is not None:
        anchor = payload.execution_arn or hashlib.sha256(payload.task_token.encode()).hexdigest()
        return execution_task_id(anchor)
    return request_task_id(envelope.event_id)


async def on_review_request(
    payload: ReviewIntake,
    ctx: MessageContext,
    *,
    store: ReviewTaskStore,
    objects: ObjectStore,
    entries: EntryStore,
) -> Sequence[Envelope]:
    """Store the request as a pending task (once, however often it is delivered)."""
    envelope = ctx.envelope
    task_id = task_id_for(payload, envelope)
    from_sfn = payload.task_token is not None
    task = ReviewTask(
        task_id=task_id,
        source=TaskSource.STEP_FUNCTIONS if from_sfn else TaskSource.SYNC,
        kind=payload.kind,
        anime_id=payload.anime_id,
        created_at=iso(utc_now()),
        title=await _title(payload, objects=objects, entries=entries),
        reason=payload.reason,
        entry_ref=payload.entry_ref,
        details=payload.details,
        task_token=payload.task_token,
        execution_arn=payload.execution_arn,
        request=payload.request,
        correlation_id=envelope.correlation_id,
        trace=envelope.trace,
        request_event_id=envelope.event_id,
    )
    if await store.create(task):
        log.info("review.task_created", task_id=task_id, anime_id=task.anime_id, kind=task.kind.value)
    elif from_sfn and payload.task_token and await store.replace_token(task_id, payload.task_token):
        # The state machine sent its request again with a fresh token: only the newest answers.
        log.info("review.task_token_replaced", task_id=task_id, anime_id=task.anime_id)
    else:
        log.info("review.task_exists", task_id=task_id, anime_id=task.anime_id)
    return []


async def _title(payload: ReviewIntake, *, objects: ObjectStore, entries: EntryStore) -> str | None:
    """The anime's title for the task list: from the proposed entry, else the live one."""
    if payload.entry_ref:
        try:
            stored = await objects.get(payload.entry_ref)
        except NotFound:
            log.warning("review.entry_missing", anime_id=payload.anime_id, entry_ref=payload.entry_ref)
        else:
            try:
                title = json.loads(stored.body).get("title")
            except (ValueError, AttributeError):
                title = None
            if isinstance(title, str):
                return title
    try:
        live = await entries.get(payload.anime_id, ["title"])
    except (ValueError, ValidationError):
        return None
    title = live.get("title") if live else None
    return title if isinstance(title, str) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
