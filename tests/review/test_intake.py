"""The review intake: both message shapes become one task each, however often they arrive."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from review_kit import TRACEPARENT, Review, Vectors, api_settings, eventually, full_entry

from avs_api.app import create_app
from avs_api.review.intake import (
    ReviewIntake,
    adapt_state_machine_message,
    on_review_request,
    request_task_id,
)
from avs_api.review.model import TaskSource, TaskStatus
from avs_shared.events import ReviewKind
from avs_shared.runtime import Worker
from avs_shared.runtime.spec import MessageContext
from avs_shared.settings import ServiceSettings
from avs_shared.topology import Q_REVIEW_REQUESTS


async def test_a_waiting_execution_becomes_one_pending_task(review: Review, intake: Worker) -> None:
    entry = full_entry(title="Intake Test")
    started = await review.start_review(entry)
    task = await review.task_of(started)
    assert task.status is TaskStatus.PENDING
    assert task.source is TaskSource.STEP_FUNCTIONS
    assert (task.kind, task.anime_id, task.entry_ref) == (ReviewKind.NEW, entry["id"], started.entry_ref)
    assert task.execution_arn == started.execution_arn
    assert task.task_token  # the token Step Functions waits for
    assert task.title == "Intake Test"  # read from the staged entry, for the list
    assert task.correlation_id == started.correlation_id
    assert task.trace.traceparent == TRACEPARENT
    assert task.request["lock_owner"] == started.lock_owner
    # The token is a credential: the JSON API never shows it.
    listed = (await review.api("GET", "/review/api/tasks")).json()["tasks"]
    assert [t["task_id"] for t in listed] == [task.task_id]
    assert "task_token" not in listed[0]


async def test_a_redelivered_state_machine_message_stores_nothing_new(review: Review, intake: Worker) -> None:
    started = await review.start_review(full_entry())
    task = await review.task_of(started)
    # The same body again (an SQS redelivery, or a copy): the runtime sees a duplicate.
    body = json.dumps(
        {"task_token": task.task_token, "execution_arn": task.execution_arn, "request": task.request}
    )
    sqs = await review.aws.client("sqs")
    await sqs.send_message(QueueUrl=await review.queue_url(Q_REVIEW_REQUESTS), MessageBody=body)
    stats = intake.stats["api-review-intake"]
    await eventually(lambda: _true(stats.duplicates == 1))
    page = await review.store.list(TaskStatus.PENDING)
    assert [t.task_id for t in page.tasks if t.anime_id == task.anime_id] == [task.task_id]
    assert (await review.store.get(task.task_id)) == task  # untouched


async def test_the_handler_itself_is_idempotent_and_keeps_the_newest_token(review: Review) -> None:
    """Below the runtime's deduplication: a new token for the same execution (the state machine
    sent its request again) replaces the old one; the task is not duplicated."""
    execution_arn = f"arn:aws:states:us-east-1:123456789012:execution:enrichment-review:{uuid.uuid4()}"
    request = {"anime_id": str(uuid.uuid4()), "kind": "episode_update", "reason": "episode 12 aired"}
    first = _sfn_body("token-1", execution_arn, request)
    second = _sfn_body("token-2", execution_arn, request)
    for body in (first, first, second):
        envelope = adapt_state_machine_message(body)
        assert envelope is not None
        payload = ReviewIntake.model_validate(envelope.payload)
        ctx = MessageContext(envelope=envelope, receive_count=1, queue=Q_REVIEW_REQUESTS, handler="h")
        assert (
            await on_review_request(
                payload, ctx, store=review.store, objects=review.objects, entries=review.entries
            )
            == []
        )
    tasks = (await review.store.list(TaskStatus.PENDING)).tasks
    assert len(tasks) == 1
    assert tasks[0].task_token == "token-2"
    assert tasks[0].kind is ReviewKind.EPISODE_UPDATE
    assert tasks[0].title is None  # no staged entry and no live entry: nothing to show


async def test_a_sync_request_becomes_a_task_about_the_live_entry(review: Review, intake: Worker) -> None:
    live = await review.put_live(full_entry(title="Synced Show", status="ONGOING"))
    details = {"offline_status": "FINISHED", "live_status": "ONGOING"}
    envelope = await review.send_sync_request(
        live.id, ReviewKind.STATUS_CHANGED, details=details, reason="status differs"
    )
    task = await eventually(lambda: review.store.get(request_task_id(envelope.event_id)))
    assert task.source is TaskSource.SYNC
    assert task.task_token is None and task.entry_ref is None
    assert task.title == "Synced Show"  # from the live entry
    assert task.details == details
    assert task.correlation_id == envelope.correlation_id
    # Delivered twice: still one task.
    sqs = await review.aws.client("sqs")
    await sqs.send_message(QueueUrl=await review.queue_url(Q_REVIEW_REQUESTS), MessageBody=envelope.to_json())
    await eventually(lambda: _true(intake.stats["api-review-intake"].duplicates == 1))
    assert len((await review.store.list(TaskStatus.PENDING)).tasks) == 1


async def test_a_broken_state_machine_message_is_dead_lettered(review: Review, intake: Worker) -> None:
    sqs = await review.aws.client("sqs")
    url = await review.queue_url(Q_REVIEW_REQUESTS)
    no_request = {"task_token": "t", "request": "not an object"}
    no_anime = {"task_token": "t2", "request": {"kind": "new"}}
    for body in (no_request, no_anime):
        await sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    await eventually(lambda: _true(intake.stats["api-review-intake"].dead_lettered == 2))
    assert not (await review.store.list(TaskStatus.PENDING)).tasks


def _sfn_body(token: str, execution_arn: str, request: dict[str, object]) -> str:
    return json.dumps({"task_token": token, "execution_arn": execution_arn, "request": request})


async def _true(value: bool) -> bool:
    return value


async def test_the_api_alone_in_its_container_runs_the_intake_itself(
    review: Review, vectors: Vectors, settings: ServiceSettings, tmp_path: Path
) -> None:
    """``AVS_API_RUN_WORKERS=true`` (the compose file's API container): no runner around it."""
    config = api_settings(settings, tmp_path, api_run_workers=True)
    config = config.model_copy(update={"worker_poll_wait_seconds": 0})
    app = create_app(config, index=vectors.index, embedder=vectors.embedder)
    live = await review.put_live(full_entry(title="Container Show"))
    async with app.router.lifespan_context(app):
        envelope = await review.send_sync_request(
            live.id, ReviewKind.MISSING_EPISODES, details={"offline": 30}
        )
        task = await eventually(lambda: review.store.get(request_task_id(envelope.event_id)))
    assert task.title == "Container Show" and task.kind is ReviewKind.MISSING_EPISODES
