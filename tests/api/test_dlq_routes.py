"""``/ops/dlq``: the operator endpoints over the real app, moto and redis (operator keys only)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from avs_api.app import create_app
from avs_api.auth import generate_api_key
from avs_api.settings import ApiSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.embedding.hashing import HashingEmbedder
from avs_shared.adapters.provision import Provisioner
from avs_shared.embedded.processes import RedisServer
from avs_shared.events import EntryApproved
from avs_shared.topology import Q_INDEXER_ENTRY_APPROVED, Q_REVIEW_REQUESTS, TOPOLOGY

OLGA = generate_api_key("olga", "operator")
ALICE = generate_api_key("alice", "reviewer")
DLQ = f"{Q_INDEXER_ENTRY_APPROVED}-dlq"
REVIEW_DLQ = f"{Q_REVIEW_REQUESTS}-dlq"


@pytest.fixture
async def api(
    provisioned: Provisioner, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(
        service_name="avs-api-dlq-test",
        data_dir=tmp_path,
        redis_url=redis_server.url,
        log_format="console",
        rate_limit_enabled=False,
        rate_limit_key_prefix=f"t-{uuid.uuid4().hex[:8]}:",
        api_keys=[OLGA.record, ALICE.record],
    )
    app = create_app(settings, embedder=HashingEmbedder())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client,
    ):
        yield client


def operator() -> dict[str, str]:
    return {"X-API-Key": OLGA.plaintext}


async def send(aws: AwsClients, queue: str, bodies: list[str], **attributes: str) -> None:
    sqs = await aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]
    attrs = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
    for body in bodies:
        await sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs)


async def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_endpoints_need_an_operator_key(api: httpx.AsyncClient) -> None:
    assert (await api.get("/ops/dlq")).status_code == 401
    reviewer = await api.get("/ops/dlq", headers={"X-API-Key": ALICE.plaintext})
    assert reviewer.status_code == 403 and "operator role" in reviewer.json()["error"]["message"]
    assert (
        await api.post(f"/ops/dlq/{DLQ}/replay", headers={"X-API-Key": ALICE.plaintext})
    ).status_code == 403


async def test_list_show_and_replay_over_http(api: httpx.AsyncClient, aws: AwsClients) -> None:
    events = [EntryApproved(anime_id=f"a{n}", entry_ref=f"staging/a{n}.json").envelope() for n in range(3)]
    await send(
        aws, DLQ, [e.to_json() for e in events], error_type="Permanent", error_reason="Permanent: bad entry"
    )
    step_functions_body = json.dumps({"task_token": "tok", "execution_arn": "arn:x", "request": {}})
    await send(aws, REVIEW_DLQ, [step_functions_body])

    listing = (await ok(await api.get("/ops/dlq", headers=operator())))["queues"]
    names = [q["name"] for q in listing]
    assert names == [q.dlq_name for q in TOPOLOGY.queues if q.dlq_name] + ["image-ingestion-failures"]
    row = next(q for q in listing if q["name"] == DLQ)
    assert (row["visible"], row["in_flight"], row["target"]) == (3, 0, Q_INDEXER_ENTRY_APPROVED)
    assert row["oldest_age_s"] is not None and row["oldest_exact"]

    shown = await ok(await api.get(f"/ops/dlq/{DLQ}", params={"limit": 2}, headers=operator()))
    assert len(shown["messages"]) == 2
    message = shown["messages"][0]
    assert message["event_type"] == "entry-approved" and message["error_reason"] == "Permanent: bad entry"
    assert message["event_id"] in {e.event_id for e in events} and message["anime_id"].startswith("a")
    review = (await ok(await api.get(f"/ops/dlq/{REVIEW_DLQ}", headers=operator())))["messages"]
    assert (
        review[0]["problem"].startswith("not an event envelope") and review[0]["body"]["task_token"] == "tok"
    )

    dry = await ok(await api.post(f"/ops/dlq/{DLQ}/replay", params={"dry_run": "true"}, headers=operator()))
    assert (dry["moved"], dry["dry_run"], dry["remaining"]) == (3, True, 3)

    partial = await ok(await api.post(f"/ops/dlq/{DLQ}/replay", params={"limit": 2}, headers=operator()))
    assert (partial["moved"], partial["skipped"], partial["failed"], partial["remaining"]) == (2, 0, 0, 1)
    rest = await ok(await api.post(f"/ops/dlq/{DLQ}/replay", headers=operator()))
    assert (rest["moved"], rest["remaining"], rest["method"]) == (1, 0, "receive-send-delete")
    again = await ok(await api.post(f"/ops/dlq/{DLQ}/replay", headers=operator()))
    assert again["moved"] == 0

    sqs = await aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName=Q_INDEXER_ENTRY_APPROVED))["QueueUrl"]
    back: list[str] = []
    while True:
        resp = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        if not resp.get("Messages"):
            break
        back += [m["Body"] for m in resp["Messages"]]
    assert sorted(back) == sorted(e.to_json() for e in events), "the bodies went back unchanged"

    # A Step Functions message (not an envelope) goes back to its queue as it is.
    review_replay = await ok(await api.post(f"/ops/dlq/{REVIEW_DLQ}/replay", headers=operator()))
    assert review_replay["moved"] == 1


async def test_unknown_queues_are_404_with_the_names(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/ops/dlq/{Q_INDEXER_ENTRY_APPROVED}", headers=operator())
    assert response.status_code == 404
    assert f"{Q_INDEXER_ENTRY_APPROVED}-dlq" in response.json()["error"]["message"]
    replay = await api.post("/ops/dlq/nope/replay", headers=operator())
    assert replay.status_code == 404 and "choose from" in replay.json()["error"]["message"]
    bad = await api.get("/ops/dlq/bad%20name", headers=operator())
    assert bad.status_code == 422
