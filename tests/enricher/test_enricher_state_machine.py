"""The ``enrichment-review`` state machine (the repository's ASL file) on moto's Step Functions,
with execution on: the review pause, approval, rejection, timeouts and the lock."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from avs_enricher.ports import EnricherPorts
from avs_enricher.review import execution_name
from avs_shared.adapters.aws import AwsClients
from avs_shared.events import EntryApproved, Envelope, TraceContext
from avs_shared.topology import (
    Q_INDEXER_ENTRY_APPROVED,
    Q_REVIEW_REQUESTS,
    T_LOCKS,
    TOPOLOGY,
)

ASL = Path(__file__).resolve().parents[2] / "infra" / TOPOLOGY.state_machines[0].definition
ANIME_ID = "2f0c5f44-1b8a-5c52-9a53-5f4a7a0b9e10"
TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


def review_input(ports: EnricherPorts, targets: Any, name: str, **overrides: Any) -> dict[str, Any]:
    request = {
        "anime_id": ANIME_ID,
        "entry_ref": f"staging/enriched/{ANIME_ID}/{name}.json",
        "kind": "new",
        "reason": "new",
        "base_version": 0,
        "lock_owner": name,
        "review_queue_url": targets.review_queue_url,
        "approved_topic_arn": targets.approved_topic_arn,
        "correlation_id": "corr-1",
        "trace": TRACE,
        "timeout_seconds": 60,
        "heartbeat_seconds": 30,
        "details": {"offline_only": False},
    }
    request.update(overrides)
    return {k: v for k, v in request.items() if v is not None}


async def start(ports: EnricherPorts, name: str, **overrides: Any) -> str:
    targets = await ports.review.targets()
    arn, started = await ports.review.start(name, review_input(ports, targets, name, **overrides))
    assert started
    return arn


async def finished(aws: AwsClients, arn: str, timeout_s: float = 45.0) -> dict[str, Any]:
    """The execution once it has stopped running. moto's callback task can miss the wake-up of
    a ``SendTask*`` that lands while it re-arms its heartbeat wait, and then notices the outcome
    only when that wait ends: up to ``HeartbeatSeconds`` later (30 s at most in this module)."""
    sfn = await aws.client("stepfunctions")
    for _ in range(int(timeout_s / 0.1)):
        described: dict[str, Any] = await sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        await asyncio.sleep(0.1)
    history = await sfn.get_execution_history(executionArn=arn, maxResults=1000)
    events = history["events"][-4:]
    last = [(e["type"], {k: v for k, v in e.items() if k.endswith("Details")}) for e in events]
    raise AssertionError(f"{arn} still running after {timeout_s}s; its last events: {last}")


async def review_message(aws: AwsClients, arn: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """The review request of execution ``arn``. Requests of other executions are deleted on
    the way: an earlier test may leave one behind (its execution failed or timed out before
    anyone read it), and its task token is not this execution's."""
    sqs = await aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName=Q_REVIEW_REQUESTS))["QueueUrl"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        resp = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in resp.get("Messages", []):
            await sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            body: dict[str, Any] = json.loads(message["Body"])
            if body.get("execution_arn") == arn:
                await waiting_for_its_token(aws, arn)
                return body
    raise AssertionError(f"no review request of {arn} arrived within {timeout_s:g}s")


async def waiting_for_its_token(aws: AwsClients, arn: str, timeout_s: float = 10.0) -> None:
    """Return once execution ``arn`` waits for its task token, so a ``SendTask*`` can reach it.

    moto sends the review request first and only then sets up the task's heartbeat wait; an
    outcome sent in between is dropped by the fresh wait, which then times out (the
    execution fails with ``ReviewTimedOut``, up to ``HeartbeatSeconds`` later). moto records
    ``TaskSubmitted`` just before that setup, which takes no I/O: a moment after it, the wait
    is in place. AWS itself has no such window."""
    sfn = await aws.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        history = await sfn.get_execution_history(executionArn=arn, maxResults=1000, reverseOrder=True)
        if any(e["type"] == "TaskSubmitted" for e in history["events"]):
            await asyncio.sleep(0.2)
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{arn} did not submit its review task within {timeout_s:g}s")


async def lock_item(aws: AwsClients) -> dict[str, Any] | None:
    ddb = await aws.client("dynamodb")
    item: dict[str, Any] | None = (
        await ddb.get_item(TableName=T_LOCKS, Key={"anime_id": {"S": ANIME_ID}}, ConsistentRead=True)
    ).get("Item")
    return item


def approval(name: str) -> dict[str, str]:
    envelope = EntryApproved(
        anime_id=ANIME_ID, entry_ref=f"staging/approved/{name}.json", base_version=0
    ).envelope(event_id=f"approved-{name}", correlation_id="corr-1", trace=TraceContext(**TRACE))
    return {"envelope": envelope.to_json()}


def name_for(tag: str) -> str:
    return execution_name("new", ANIME_ID, tag)


async def test_approval_publishes_entry_approved_and_keeps_the_lock_for_the_indexer(
    ports: EnricherPorts, aws: AwsClients, drain: Any
) -> None:
    name = name_for("approve")
    assert await ports.review.claim_lock(ANIME_ID, name) is None
    arn = await start(ports, name)

    message = await review_message(aws, arn)
    assert message["execution_arn"] == arn
    assert message["request"]["entry_ref"] == f"staging/enriched/{ANIME_ID}/{name}.json"
    assert message["request"]["trace"] == TRACE
    sfn = await aws.client("stepfunctions")
    await sfn.send_task_success(taskToken=message["task_token"], output=json.dumps(approval(name)))

    assert (await finished(aws, arn))["status"] == "SUCCEEDED"
    [delivered] = await drain(Q_INDEXER_ENTRY_APPROVED)
    envelope = Envelope.from_json(delivered["body"])  # raw delivery: the envelope itself
    assert envelope.event_type == "entry-approved" and envelope.payload is not None
    assert envelope.payload["entry_ref"] == f"staging/approved/{name}.json"
    assert envelope.trace.traceparent == TRACE["traceparent"], "the approval continues the enricher's trace"
    assert delivered["attributes"]["event_type"]["StringValue"] == "entry-approved"
    assert delivered["attributes"]["correlation_id"]["StringValue"] == "corr-1"
    assert await lock_item(aws) is not None, "the indexer releases it after the commit"


async def test_rejection_releases_the_lock(ports: EnricherPorts, aws: AwsClients, drain: Any) -> None:
    name = name_for("reject")
    await ports.review.claim_lock(ANIME_ID, name)
    arn = await start(ports, name)

    message = await review_message(aws, arn)
    sfn = await aws.client("stepfunctions")
    await sfn.send_task_failure(taskToken=message["task_token"], error="Rejected", cause="not an anime")

    described = await finished(aws, arn)
    assert (described["status"], described["error"]) == ("FAILED", "Rejected")
    assert await lock_item(aws) is None
    assert await drain(Q_INDEXER_ENTRY_APPROVED) == []


async def test_a_review_that_times_out_releases_the_lock(ports: EnricherPorts, aws: AwsClients) -> None:
    name = name_for("timeout")
    await ports.review.claim_lock(ANIME_ID, name)
    arn = await start(ports, name, timeout_seconds=2, heartbeat_seconds=1)
    message = await review_message(aws, arn)
    sfn = await aws.client("stepfunctions")
    for _ in range(12):  # heartbeats keep it alive: it is TimeoutSeconds that ends it
        with contextlib.suppress(ClientError):  # TaskTimedOut once it is over
            await sfn.send_task_heartbeat(taskToken=message["task_token"])
        await asyncio.sleep(0.25)

    described = await finished(aws, arn)
    assert (described["status"], described["error"]) == ("FAILED", "ReviewTimedOut")
    assert await lock_item(aws) is None


async def test_heartbeats_keep_a_review_alive_and_their_absence_ends_it(
    ports: EnricherPorts, aws: AwsClients
) -> None:
    sfn = await aws.client("stepfunctions")
    alive, silent = name_for("heartbeat"), execution_name("new", ANIME_ID.replace("2f0c", "3f0c"), "silent")
    await ports.review.claim_lock(ANIME_ID, alive)
    arn = await start(ports, alive, heartbeat_seconds=2)
    message = await review_message(aws, arn)
    for _ in range(10):  # 3 s of review, longer than the 2 s heartbeat
        await sfn.send_task_heartbeat(taskToken=message["task_token"])
        await asyncio.sleep(0.3)
    await sfn.send_task_success(taskToken=message["task_token"], output=json.dumps(approval(alive)))
    assert (await finished(aws, arn))["status"] == "SUCCEEDED"

    arn = await start(ports, silent, anime_id=ANIME_ID.replace("2f0c", "3f0c"), heartbeat_seconds=1)
    await review_message(aws, arn)
    described = await finished(aws, arn)
    assert (described["status"], described["error"]) == ("FAILED", "ReviewTimedOut")


async def test_a_lock_held_by_someone_else_is_never_released(ports: EnricherPorts, aws: AwsClients) -> None:
    name = name_for("other-owner")
    assert await ports.review.claim_lock(ANIME_ID, "another-review") is None
    arn = await start(ports, name)
    message = await review_message(aws, arn)
    sfn = await aws.client("stepfunctions")
    await sfn.send_task_failure(taskToken=message["task_token"], error="Rejected", cause="no")

    assert (await finished(aws, arn))["error"] == "Rejected"
    lock = await lock_item(aws)
    assert lock is not None and lock["owner"]["S"] == "another-review"


async def test_an_approval_without_an_envelope_fails_and_releases_the_lock(
    ports: EnricherPorts, aws: AwsClients
) -> None:
    name = name_for("bad-output")
    await ports.review.claim_lock(ANIME_ID, name)
    arn = await start(ports, name)
    message = await review_message(aws, arn)
    sfn = await aws.client("stepfunctions")
    await sfn.send_task_success(taskToken=message["task_token"], output=json.dumps({"approved": True}))

    assert (await finished(aws, arn))["error"] == "ReviewFailed"
    assert await lock_item(aws) is None


@pytest.mark.parametrize(
    ("overrides", "error", "released"),
    [
        ({"entry_ref": None}, "ReviewFailed", True),  # no review possible, but the lock can be freed
        ({"timeout_seconds": "soon"}, "ReviewFailed", True),
        ({"timeout_seconds": 1, "heartbeat_seconds": 1}, "ReviewFailed", True),  # no heartbeat fits below 1 s
        ({"anime_id": None}, "InvalidInput", False),  # nothing to release
    ],
)
async def test_invalid_input_never_hangs_nor_leaks_the_lock(
    ports: EnricherPorts, aws: AwsClients, overrides: dict[str, Any], error: str, released: bool
) -> None:
    name = name_for(f"invalid-{error}-{released}-{sorted(overrides)}")
    await ports.review.claim_lock(ANIME_ID, name)
    arn = await start(ports, name, **overrides)

    assert (await finished(aws, arn))["error"] == error
    assert (await lock_item(aws) is None) is released


async def test_the_timeouts_default_to_a_week_and_two_days(ports: EnricherPorts, aws: AwsClients) -> None:
    name = name_for("defaults")
    arn = await start(ports, name, timeout_seconds=None, heartbeat_seconds=None)
    message = await review_message(aws, arn)
    assert (message["request"]["timeout_seconds"], message["request"]["heartbeat_seconds"]) == (
        604_800,
        172_800,
    )
    sfn = await aws.client("stepfunctions")
    await sfn.stop_execution(executionArn=arn)


async def test_a_heartbeat_not_below_the_timeout_is_shortened(ports: EnricherPorts, aws: AwsClients) -> None:
    """Step Functions wants HeartbeatSeconds < TimeoutSeconds; a short timeout alone still works."""
    name = name_for("clamp")
    arn = await start(ports, name, timeout_seconds=30, heartbeat_seconds=None)
    message = await review_message(aws, arn)
    assert (message["request"]["timeout_seconds"], message["request"]["heartbeat_seconds"]) == (30, 29)
    sfn = await aws.client("stepfunctions")
    await sfn.send_task_success(taskToken=message["task_token"], output=json.dumps(approval(name)))
    assert (await finished(aws, arn))["status"] == "SUCCEEDED"


def test_every_integration_retries_and_catches() -> None:
    states = json.loads(ASL.read_text())["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert set(tasks) == {
        "WaitForReview",
        "PublishApproved",
        "ReleaseLockRejected",
        "ReleaseLockTimedOut",
        "ReleaseLockFailed",
    }
    for name, state in tasks.items():
        assert state["Retry"], name
        assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), (
            f"{name} can fail without a catch"
        )
        if state["Resource"].endswith("dynamodb:deleteItem"):
            assert state["Parameters"]["TableName"] == T_LOCKS
            assert state["Parameters"]["ConditionExpression"] == "#owner = :owner"
    wait = tasks["WaitForReview"]
    assert (wait["TimeoutSecondsPath"], wait["HeartbeatSecondsPath"]) == (
        "$.timeout_seconds",
        "$.heartbeat_seconds",
    )
    assert {s["Type"] for s in states.values()} <= {"Pass", "Choice", "Task", "Succeed", "Fail"}
