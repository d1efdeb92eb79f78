"""Approving and rejecting through the JSON API, against the real ``enrichment-review`` state
machine executing in moto, and for sync requests (no state machine)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from review_kit import OPERATOR_KEY, TRACEPARENT, Review, eventually, full_entry

from avs_api.review.intake import request_task_id
from avs_api.review.model import TaskStatus
from avs_api.review.service import HeartbeatReport
from avs_api.review.wiring import review_cron_jobs
from avs_shared.events import EntryApproved, ReviewKind, derive_event_id
from avs_shared.runtime import Worker, build_runtime
from avs_shared.runtime.context import RunContext
from avs_shared.schema import AnimeEntry
from avs_shared.settings import ServiceSettings
from avs_shared.topology import Q_INDEXER_ENTRY_APPROVED, S_REVIEW_HEARTBEAT, TOPOLOGY


async def test_approve_with_edits_resumes_the_execution_which_publishes_entry_approved(
    review: Review, intake: Worker
) -> None:
    entry = full_entry(title="Approve Me")
    started = await review.start_review(entry)
    task = await review.task_of(started)

    shown = (await review.api("GET", f"/review/api/tasks/{task.task_id}")).json()
    assert shown["entry"]["title"] == "Approve Me"
    assert shown["live_entry"] is None and shown["base_version"] == 0 and shown["diff"] == []

    edited = shown["entry"]
    edited["characters"][0]["name"] = "Aoi Hoshino (edited)"
    edited["episode_details"].append({"episode_number": 4, "title": "Added by the reviewer"})
    response = await review.api(
        "POST", f"/review/api/tasks/{task.task_id}/approve", json={"entry": edited, "base_version": 0}
    )
    assert response.status_code == 200, response.text
    decided = response.json()["task"]
    assert decided["status"] == "approved" and decided["decided_by"] == "rita"

    await review.execution(started.execution_arn, status="SUCCEEDED")
    [event] = await review.approved_events()
    approved = EntryApproved.model_validate(event.payload)
    assert approved.anime_id == entry["id"]
    assert approved.review_task_id == task.task_id
    assert approved.base_version == 0  # a new anime
    assert approved.entry_ref == decided["approved_entry_ref"] != started.entry_ref
    assert approved.entry_ref.startswith("staging/reviews/")
    # One journey, one trace: the request's trace context and correlation id go along.
    assert event.trace.traceparent == TRACEPARENT
    assert event.correlation_id == started.correlation_id
    # Deterministic: derived from the task and the approved content.
    body = (await review.objects.get(approved.entry_ref)).body
    assert event.event_id == decided["approved_event_id"]
    assert event.event_id == derive_event_id("entry-approved", task.task_id, hashlib.sha256(body).hexdigest())
    stored = await review.stored_entry(approved.entry_ref)
    assert stored["characters"][0]["name"] == "Aoi Hoshino (edited)"
    assert stored["episode_details"][-1] == {"episode_number": 4, "title": "Added by the reviewer"}
    assert stored["episode_overrides"] == entry["episode_overrides"]  # unknown fields kept
    # The proposal itself is untouched.
    assert (await review.stored_entry(started.entry_ref))["title"] == "Approve Me"


async def test_approve_without_edits_sends_the_proposal(review: Review, intake: Worker) -> None:
    started = await review.start_review(full_entry(title="As Proposed"))
    task = await review.task_of(started)
    response = await review.api("POST", f"/review/api/tasks/{task.task_id}/approve", json={})
    assert response.status_code == 200, response.text
    [event] = await review.approved_events()
    stored = await review.stored_entry(EntryApproved.model_validate(event.payload).entry_ref)
    assert stored == await review.stored_entry(started.entry_ref) | {"id": stored["id"]}


async def test_reject_fails_the_execution_and_releases_the_lock(review: Review, intake: Worker) -> None:
    started = await review.start_review(full_entry())
    task = await review.task_of(started)
    assert await review.lock_exists(started.anime_id)

    blank = await review.api("POST", f"/review/api/tasks/{task.task_id}/reject", json={"reason": "  "})
    assert blank.status_code == 400 and "reason" in blank.json()["error"]["message"]
    assert (await review.store.get(task.task_id)).status is TaskStatus.PENDING  # type: ignore[union-attr]

    reason = "wrong show: the MAL id is a sequel"
    response = await review.api("POST", f"/review/api/tasks/{task.task_id}/reject", json={"reason": reason})
    assert response.status_code == 200, response.text
    assert response.json()["task"]["status"] == "rejected"
    assert response.json()["task"]["decision_reason"] == "wrong show: the MAL id is a sequel"

    failed = await review.execution(started.execution_arn, status="FAILED")
    assert failed.get("error") == "Rejected"
    await eventually(lambda: _negate(review.lock_exists(started.anime_id)))
    assert await review.queue_is_empty(Q_INDEXER_ENTRY_APPROVED)


async def test_two_reviewers_at_once_one_wins_the_other_is_told(review: Review, intake: Worker) -> None:
    started = await review.start_review(full_entry())
    task = await review.task_of(started)
    path = f"/review/api/tasks/{task.task_id}/approve"
    first, second = await asyncio.gather(
        review.api("POST", path, json={}), review.api("POST", path, json={}, key=OPERATOR_KEY)
    )
    codes = sorted([first.status_code, second.status_code])
    assert codes == [200, 409], (first.text, second.text)
    loser = first if first.status_code == 409 else second
    error = loser.json()["error"]
    assert error["code"] == "task_taken"
    assert "is approving this task right now" in error["message"] or "already approved by" in error["message"]

    await review.execution(started.execution_arn, status="SUCCEEDED")
    events = await review.approved_events()
    assert len(events) == 1
    # Later attempts (approve or reject) are told what happened, by whom.
    again = await review.api("POST", f"/review/api/tasks/{task.task_id}/reject", json={"reason": "late"})
    assert again.status_code == 409
    winner = "rita" if first.status_code == 200 else "otto"
    assert f"already approved by {winner}" in again.json()["error"]["message"]


async def test_a_timed_out_review_is_reported_not_a_500(review: Review, intake: Worker) -> None:
    started = await review.start_review(full_entry(), timeout_seconds=2)
    task = await review.task_of(started)
    await review.execution(started.execution_arn, status="FAILED", within=60)  # ReviewTimedOut
    await eventually(lambda: _negate(review.lock_exists(started.anime_id)))

    response = await review.api("POST", f"/review/api/tasks/{task.task_id}/approve", json={})
    assert response.status_code == 410, response.text
    error = response.json()["error"]
    assert error["code"] == "review_expired"
    assert "can no longer be answered" in error["message"] and "Nothing was sent" in error["message"]
    stored = await review.store.get(task.task_id)
    assert stored is not None and stored.status is TaskStatus.EXPIRED
    assert await review.queue_is_empty(Q_INDEXER_ENTRY_APPROVED)
    # The task no longer shows as pending.
    assert (await review.api("GET", "/review/api/tasks")).json()["tasks"] == []


async def test_heartbeats_keep_reviews_alive_and_close_the_ones_that_ended(
    review: Review, intake: Worker, settings: ServiceSettings, tmp_path: Path
) -> None:
    alive = await review.start_review(full_entry())
    ended = await review.start_review(full_entry(), timeout_seconds=2)
    alive_task, ended_task = await review.task_of(alive), await review.task_of(ended)
    await review.execution(ended.execution_arn, status="FAILED", within=60)  # it timed out

    # The job as the runner's cron fires it (the `review-heartbeat` schedule).
    publisher, idempotency, claim_check = await build_runtime(review.aws, settings)
    async with contextlib.AsyncExitStack() as resources:
        ctx = RunContext(
            settings=settings,
            aws=review.aws,
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
            data_dir=tmp_path,
            resources=resources,
        )
        jobs = review_cron_jobs(ctx)
        assert set(jobs) == {S_REVIEW_HEARTBEAT} and S_REVIEW_HEARTBEAT in {
            s.name for s in TOPOLOGY.schedules
        }
        report = await jobs[S_REVIEW_HEARTBEAT](datetime.now(UTC))
    assert isinstance(report, HeartbeatReport)
    assert (report.sent, report.expired, report.failed) == (1, 1, 0)
    assert (await review.store.get(alive_task.task_id)).status is TaskStatus.PENDING  # type: ignore[union-attr]
    closed = await review.store.get(ended_task.task_id)
    assert closed is not None and closed.status is TaskStatus.EXPIRED
    assert "can no longer be answered" in (closed.decision_reason or "")
    assert await review.execution_status(alive.execution_arn) == "RUNNING"


async def test_sync_approval_publishes_entry_approved_based_on_the_live_version(
    review: Review, intake: Worker
) -> None:
    live = await review.put_live(full_entry(title="Live Show", status="ONGOING"))
    envelope = await review.send_sync_request(
        live.id,
        ReviewKind.STATUS_CHANGED,
        details={"offline_status": "FINISHED", "live_status": "ONGOING"},
        reason="the offline database says FINISHED",
    )
    task_id = request_task_id(envelope.event_id)
    await eventually(lambda: review.store.get(task_id))
    shown = (await review.api("GET", f"/review/api/tasks/{task_id}")).json()
    assert shown["entry"]["title"] == "Live Show"  # the live entry is what gets edited
    assert shown["base_version"] == live.version == 1
    edited = shown["entry"] | {"status": "FINISHED"}

    stale = await review.api(
        "POST", f"/review/api/tasks/{task_id}/approve", json={"entry": edited, "base_version": 0}
    )
    assert stale.status_code == 409 and "changed since you opened" in stale.json()["error"]["message"]

    response = await review.api(
        "POST", f"/review/api/tasks/{task_id}/approve", json={"entry": edited, "base_version": 1}
    )
    assert response.status_code == 200, response.text
    [event] = await review.approved_events()
    approved = EntryApproved.model_validate(event.payload)
    assert approved.base_version == 1 and approved.review_task_id == task_id
    assert event.trace.traceparent == TRACEPARENT and event.correlation_id == envelope.correlation_id
    assert (await review.stored_entry(approved.entry_ref))["status"] == "FINISHED"


async def test_a_proposal_built_on_an_older_version_is_not_approved_over_a_newer_one(
    review: Review, intake: Worker
) -> None:
    live = await review.put_live(full_entry(title="Two Reviews", status="ONGOING"))
    proposal = live.to_json_dict() | {"title": "Episode 5 refreshed"}
    started = await review.start_review(proposal, kind="episode_update", base_version=live.version)
    task = await review.task_of(started)
    # Another review of the same anime is committed first.
    newer = await review.entries.put(
        AnimeEntry.from_json_dict(live.to_json_dict() | {"title": "Episode 4 refreshed"}),
        expected_version=live.version,
    )
    assert newer.version == live.version + 1

    refused = await review.api("POST", f"/review/api/tasks/{task.task_id}/approve", json={})

    assert refused.status_code == 409, refused.text
    assert f"built on version {live.version}" in refused.json()["error"]["message"]
    assert (await review.store.require(task.task_id)).status is TaskStatus.PENDING, "nothing was claimed"
    assert await review.queue_is_empty(Q_INDEXER_ENTRY_APPROVED)


async def test_sync_rejection_records_the_outcome_and_sends_nothing(review: Review, intake: Worker) -> None:
    live = await review.put_live(full_entry())
    envelope = await review.send_sync_request(live.id, ReviewKind.MERGE, details={"records": 2})
    task_id = request_task_id(envelope.event_id)
    await eventually(lambda: review.store.get(task_id))
    response = await review.api("POST", f"/review/api/tasks/{task_id}/reject", json={"reason": "not a merge"})
    assert response.status_code == 200
    stored = await review.store.get(task_id)
    assert stored is not None and stored.status is TaskStatus.REJECTED
    assert stored.decision_reason == "not a merge"
    await asyncio.sleep(0.5)
    assert await review.queue_is_empty(Q_INDEXER_ENTRY_APPROVED)


async def test_an_invalid_entry_is_refused_field_by_field_and_nothing_is_sent(
    review: Review, intake: Worker
) -> None:
    started = await review.start_review(full_entry())
    task = await review.task_of(started)
    bad = full_entry(started.anime_id, episodes="many", type="SERIES")
    bad["characters"][1].pop("role")
    response = await review.api("POST", f"/review/api/tasks/{task.task_id}/approve", json={"entry": bad})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_entry"
    fields = {f["field"] for f in error["fields"]}
    assert {"episodes", "type", "characters.1.role"} <= fields
    other = await review.api(
        "POST", f"/review/api/tasks/{task.task_id}/approve", json={"entry": full_entry(str(uuid.uuid4()))}
    )
    assert other.status_code == 422 and other.json()["error"]["fields"][0]["field"] == "id"
    assert (await review.store.get(task.task_id)).status is TaskStatus.PENDING  # type: ignore[union-attr]
    assert await review.execution_status(started.execution_arn) == "RUNNING"


async def test_list_filters_by_kind_and_pages_with_a_cursor(review: Review) -> None:
    from avs_api.review.model import ReviewTask, TaskSource, iso, utc_now

    kinds = [ReviewKind.NEW, ReviewKind.MERGE, ReviewKind.SPLIT, ReviewKind.EPISODE_UPDATE, ReviewKind.MERGE]
    for i, kind in enumerate(kinds):
        await review.store.create(
            ReviewTask(
                task_id=f"task-{i}",
                source=TaskSource.SYNC,
                kind=kind,
                anime_id=str(uuid.uuid4()),
                created_at=iso(utc_now()),
                correlation_id="c",
                request_event_id=f"e{i}",
            )
        )
    merged = (await review.api("GET", "/review/api/tasks", params={"kind": "merge_split"})).json()
    assert [t["task_id"] for t in merged["tasks"]] == ["task-1", "task-2", "task-4"]  # oldest first

    async def listed(**params: object) -> dict[str, Any]:
        response = await review.api("GET", "/review/api/tasks", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    first = await listed(limit=2)
    assert [t["task_id"] for t in first["tasks"]] == ["task-0", "task-1"]
    second = await listed(limit=2, cursor=first["next_cursor"])
    third = await listed(limit=2, cursor=second["next_cursor"])
    assert [t["task_id"] for t in second["tasks"] + third["tasks"]] == ["task-2", "task-3", "task-4"]
    assert third["next_cursor"] is None
    paged = await listed(kind="merge_split", limit=1)
    rest = await listed(kind="merge_split", limit=5, cursor=paged["next_cursor"])
    assert [t["task_id"] for t in paged["tasks"] + rest["tasks"]] == ["task-1", "task-2", "task-4"]
    assert (await review.api("GET", "/review/api/tasks", params={"kind": "nope"})).status_code == 422
    assert (await review.api("GET", "/review/api/tasks", params={"cursor": "garbage!"})).status_code == 422
    assert (await review.api("GET", "/review/api/tasks", params={"status": "approved"})).json()["tasks"] == []
    assert (await review.api("GET", "/review/api/tasks/no-such-task")).status_code == 404


async def test_json_endpoints_need_a_reviewer_key(review: Review) -> None:
    anonymous = await review.client.get("/review/api/tasks")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    wrong = await review.api("GET", "/review/api/tasks", key="avs_not-a-key")
    assert wrong.status_code == 401
    bearer = await review.client.get("/review/api/tasks", headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
    assert bearer.status_code == 200  # operators may review too
    # A browser session cookie is no credential for the JSON API (so it needs no CSRF token).
    await review.login()
    assert (await review.client.get("/review/api/tasks")).status_code == 401
    assert (await review.client.post("/review/api/tasks/x/reject", json={"reason": "r"})).status_code == 401


async def _negate(value: object) -> bool:
    return not await value  # type: ignore[misc]


async def test_a_task_whose_proposal_expired_says_so(review: Review) -> None:
    from avs_api.review.model import ReviewTask, TaskSource, iso, utc_now

    task = ReviewTask(
        task_id="lost-entry",
        source=TaskSource.STEP_FUNCTIONS,
        kind=ReviewKind.NEW,
        anime_id=str(uuid.uuid4()),
        created_at=iso(utc_now()),
        entry_ref="staging/enriched/gone.json",
        task_token="token",
        correlation_id="c",
        request_event_id="e",
    )
    await review.store.create(task)
    shown = (await review.api("GET", "/review/api/tasks/lost-entry")).json()
    assert shown["entry"] is None and "no longer in S3" in shown["problem"]
    response = await review.api("POST", "/review/api/tasks/lost-entry/approve", json={})
    assert response.status_code == 400 and "reject this task" in response.json()["error"]["message"]
    assert (await review.store.get("lost-entry")).status is TaskStatus.PENDING  # type: ignore[union-attr]
