"""The review service layer: list tasks, show one, approve it (edited or not), reject it.

An approval or rejection is one conditional claim of the task (exactly one reviewer
wins), then the delivery, then the outcome:

=================== ======================================= =================================
source              approve                                 reject
=================== ======================================= =================================
Step Functions      ``SendTaskSuccess`` with                ``SendTaskFailure`` error
                    ``{"envelope": <entry-approved>}``;     ``Rejected``, the reason as cause;
                    the execution publishes it              the execution releases the lock
sync                publish ``entry-approved``              record the outcome
=================== ======================================= =================================

The approved entry is validated before anything is claimed or sent; it travels by
reference (a new key under ``staging/reviews/``). The ``entry-approved`` event carries
the request's trace context and correlation id, so the whole journey is one trace, and
an id derived from the task and the entry's content, so a repeated delivery is a
duplicate downstream. A token Step Functions no longer accepts closes the task as
``expired``; a delivery that failed otherwise gives the task back (``pending``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import JsonValue, ValidationError

from avs_api.review.callbacks import TaskCallbacks, TokenNotAccepted
from avs_api.review.diff import DiffRow, diff_entries
from avs_api.review.model import FINAL_STATUSES, KIND_FILTERS, ReviewTask, TaskSource, TaskStatus
from avs_api.review.store import ReviewTaskStore, TaskPage, TaskTaken, taken_message
from avs_shared.errors import Conflict, NotFound, Permanent
from avs_shared.events import EntryApproved, derive_event_id
from avs_shared.ports.entries import EntryStore
from avs_shared.ports.messaging import Publisher
from avs_shared.ports.storage import ObjectStore
from avs_shared.schema import AnimeEntry
from avs_shared.topology import STAGING_PREFIX

log = structlog.get_logger(__name__)

REVIEWED_PREFIX = f"{STAGING_PREFIX}reviews/"
READ_ONLY_FIELDS = ("id", "version", "updated_at")
"""Fields of an entry the reviewer cannot change: the store manages them."""

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldError:
    """One problem with the edited entry; ``path`` is the JSON path (``("characters", 0, "name")``)."""

    path: Path
    message: str

    def public(self) -> dict[str, str]:
        dotted = ".".join(str(p) for p in self.path)
        return {"field": dotted or "entry", "reason": self.message}


class EntryInvalid(Permanent):
    """The edited entry is not a valid ``AnimeEntry``; nothing was sent."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"the entry is invalid ({len(errors)} problem(s)); nothing was sent")
        self.errors = errors


@dataclass
class HeartbeatReport:
    sent: int = 0
    expired: int = 0
    failed: int = 0


class ReasonRequired(Permanent):
    """A rejection needs a reason."""


@dataclass
class TaskView:
    """What a reviewer looks at.

    Attributes
    ----------
    proposal:
        The entry to review as a JSON document: the proposed entry (``entry_ref``), or
        the live entry for a sync request without one. None when it cannot be loaded.
    live:
        The live entry's JSON document, None for a new anime.
    live_version:
        The live entry's version (0: new); an approval must be based on it.
    problem:
        Why the proposal could not be loaded, for the reviewer.
    """

    task: ReviewTask
    proposal: dict[str, JsonValue] | None
    live: dict[str, JsonValue] | None
    live_version: int
    problem: str | None = None
    diff: list[DiffRow] = field(default_factory=list)


class ReviewService:
    """Review tasks over their ports (the task store, S3, the entry store, Step Functions, SNS)."""

    def __init__(
        self,
        *,
        store: ReviewTaskStore,
        objects: ObjectStore,
        entries: EntryStore,
        callbacks: TaskCallbacks,
        publisher: Publisher,
    ) -> None:
        self.store = store
        self._objects = objects
        self._entries = entries
        self._callbacks = callbacks
        self._publisher = publisher

    async def list_tasks(
        self,
        *,
        status: TaskStatus = TaskStatus.PENDING,
        kind: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> TaskPage:
        """Tasks in ``status`` (oldest first); ``kind`` is a key of :data:`KIND_FILTERS`."""
        kinds = KIND_FILTERS[kind] if kind else ()
        return await self.store.list(status, kinds=kinds, limit=limit, cursor=cursor)

    async def view(self, task_id: str) -> TaskView:
        """The task with its proposed entry, the live entry and their differences."""
        task = await self.store.require(task_id)
        live_entry = await self._entries.get(task.anime_id, consistent=True)
        live = live_entry.to_json_dict() if live_entry is not None else None
        view = TaskView(task, None, live, live_entry.version if live_entry is not None else 0)
        ref = task.approved_entry_ref if task.status is TaskStatus.APPROVED else task.entry_ref
        if ref:
            try:
                view.proposal = await self._load(ref)
            except NotFound:
                view.problem = (
                    f"the proposed entry {ref} is no longer in S3 (staging objects expire); "
                    "reject this task so the anime can be enriched again"
                )
            except Permanent as exc:
                view.problem = f"{exc}; reject this task"
        elif live is not None:
            view.proposal = live
        else:
            view.problem = f"anime {task.anime_id} has no live entry and the request carries none; reject it"
        if view.proposal is not None and live is not None:
            view.diff = diff_entries(live, view.proposal)
        return view

    async def approve(
        self,
        task_id: str,
        *,
        by: str,
        document: dict[str, Any] | None = None,
        base_version: int | None = None,
    ) -> ReviewTask:
        """Approve the task with ``document`` (the edited entry; None: the proposal as it is).

        ``base_version`` is the live version the reviewer saw (None: whatever is live now).

        Raises
        ------
        EntryInvalid
            The entry is not valid; nothing was claimed or sent.
        TaskTaken
            Another reviewer decided (or is deciding) the task.
        Conflict
            The live entry changed since the reviewer loaded the task.
        TokenNotAccepted
            Step Functions no longer accepts the task token; the task is now ``expired``.
        """
        task = await self.store.require(task_id)
        _ensure_open(task)
        if document is None:
            view = await self.view(task_id)
            if view.proposal is None:
                raise Permanent(view.problem or "this task has no entry to approve")
            document = view.proposal
        entry = validate_entry(document, anime_id=task.anime_id)
        live = await self._entries.get(task.anime_id, consistent=True)
        live_version = live.version if live is not None else 0
        proposed_on = task.request.get("base_version")
        if isinstance(proposed_on, int) and not isinstance(proposed_on, bool) and proposed_on != live_version:
            # The proposal was built on an older entry: committing it would silently undo the
            # changes made since (two pending reviews of one anime, say).
            raise Conflict(
                f"this proposal for {task.anime_id} was built on version {proposed_on}, but version "
                f"{live_version} is live now; reject this task and let the anime be enriched again"
            )
        if base_version is not None and base_version != live_version:
            raise Conflict(
                f"the live entry of {task.anime_id} changed since you opened this task (you saw version "
                f"{base_version}, it is now {live_version}); reload the task, check the changes and approve "
                "again"
            )
        body = entry.to_json().encode()
        digest = hashlib.sha256(body).hexdigest()
        claim_id = str(uuid.uuid4())
        task = await self.store.claim(task_id, action=TaskStatus.APPROVING, by=by, claim_id=claim_id)
        ref = f"{REVIEWED_PREFIX}{task_id}/{digest[:32]}.json"
        event_id = derive_event_id("entry-approved", task_id, digest)
        try:
            await self._objects.put(ref, body, content_type="application/json")
            envelope = EntryApproved(
                anime_id=task.anime_id, entry_ref=ref, review_task_id=task_id, base_version=live_version
            ).envelope(event_id=event_id, correlation_id=task.correlation_id, trace=task.trace)
            if task.source is TaskSource.STEP_FUNCTIONS:
                await self._callbacks.succeed(
                    _token(task), {"envelope": envelope.to_json()}, execution_arn=task.execution_arn
                )
            else:
                await self._publisher.publish(envelope)
        except TokenNotAccepted as exc:
            await self.store.finish(
                task_id, claim_id, TaskStatus.EXPIRED, decided_by=by, decision_reason=str(exc)
            )
            raise
        except BaseException:
            await asyncio.shield(self._give_back(task_id, claim_id))
            raise
        log.info("review.approved", task_id=task_id, anime_id=task.anime_id, by=by, event_id=event_id)
        return await self.store.finish(
            task_id,
            claim_id,
            TaskStatus.APPROVED,
            decided_by=by,
            approved_entry_ref=ref,
            approved_event_id=event_id,
            base_version=live_version,
        )

    async def reject(self, task_id: str, *, by: str, reason: str) -> ReviewTask:
        """Reject the task; ``reason`` is required (it becomes the failure's cause).

        Raises
        ------
        ReasonRequired, TaskTaken, TokenNotAccepted
            As for :meth:`approve`.
        """
        reason = reason.strip()
        if not reason:
            raise ReasonRequired("say why you reject the entry: the reason is required")
        task = await self.store.require(task_id)
        _ensure_open(task)
        claim_id = str(uuid.uuid4())
        task = await self.store.claim(task_id, action=TaskStatus.REJECTING, by=by, claim_id=claim_id)
        try:
            if task.source is TaskSource.STEP_FUNCTIONS:
                await self._callbacks.fail(
                    _token(task), error="Rejected", cause=reason, execution_arn=task.execution_arn
                )
        except TokenNotAccepted as exc:
            await self.store.finish(
                task_id, claim_id, TaskStatus.EXPIRED, decided_by=by, decision_reason=str(exc)
            )
            raise
        except BaseException:
            await asyncio.shield(self._give_back(task_id, claim_id))
            raise
        log.info("review.rejected", task_id=task_id, anime_id=task.anime_id, by=by)
        return await self.store.finish(
            task_id, claim_id, TaskStatus.REJECTED, decided_by=by, decision_reason=reason
        )

    async def heartbeat_pending(self) -> HeartbeatReport:
        """``SendTaskHeartbeat`` for every pending Step Functions task (the state machine's
        ``HeartbeatSeconds`` fails a review nobody keeps alive); tasks whose token is no
        longer accepted are closed as ``expired``. Run it well within the heartbeat time."""
        report = HeartbeatReport()
        cursor: str | None = None
        while True:
            page = await self.store.list(TaskStatus.PENDING, limit=200, cursor=cursor)
            for task in page.tasks:
                if task.source is not TaskSource.STEP_FUNCTIONS or not task.task_token:
                    continue
                try:
                    await self._callbacks.heartbeat(task.task_token, execution_arn=task.execution_arn)
                except TokenNotAccepted as exc:
                    if await self.store.expire(task.task_id, str(exc)):
                        report.expired += 1
                        log.info("review.task_expired", task_id=task.task_id, anime_id=task.anime_id)
                except Exception as exc:  # one bad task must not stop the others; the next run retries
                    report.failed += 1
                    log.warning("review.heartbeat_failed", task_id=task.task_id, error=repr(exc))
                else:
                    report.sent += 1
            cursor = page.next_cursor
            if cursor is None:
                log.info("review.heartbeats", sent=report.sent, expired=report.expired, failed=report.failed)
                return report

    async def _give_back(self, task_id: str, claim_id: str) -> None:
        """Release a claim whose decision could not be delivered (nothing was sent). If even
        that fails, the claim goes stale and another reviewer may take the task over."""
        try:
            await self.store.release(task_id, claim_id)
        except Exception as exc:
            log.warning("review.release_failed", task_id=task_id, error=repr(exc))

    async def _load(self, key: str) -> dict[str, JsonValue]:
        stored = await self._objects.get(key)
        try:
            doc = json.loads(stored.body)
        except ValueError as exc:
            raise Permanent(f"the proposed entry {key} is not JSON") from exc
        if not isinstance(doc, dict):
            raise Permanent(f"the proposed entry {key} is not a JSON object")
        return doc


def validate_entry(document: dict[str, Any], *, anime_id: str) -> AnimeEntry:
    """``document`` as an :class:`AnimeEntry` of ``anime_id``, or :class:`EntryInvalid` listing
    every problem by its JSON path."""
    doc = dict(document)
    doc.setdefault("id", anime_id)
    if doc["id"] != anime_id:
        raise EntryInvalid([FieldError(("id",), f"the entry id must stay {anime_id}")])
    try:
        return AnimeEntry.from_json_dict(doc)
    except ValidationError as exc:
        raise EntryInvalid(
            [FieldError(tuple(err["loc"]), str(err["msg"])) for err in exc.errors(include_url=False)]
        ) from None


def _ensure_open(task: ReviewTask) -> None:
    """Fail early for a decided task. A task being decided is left to the store's claim, which
    also knows when such a claim is stale (a crashed decision) and may be taken over."""
    if task.status in FINAL_STATUSES:
        raise TaskTaken(taken_message(task), task)


def _token(task: ReviewTask) -> str:
    if not task.task_token:
        raise Permanent(f"task {task.task_id} came from Step Functions but has no task token")
    return task.task_token
