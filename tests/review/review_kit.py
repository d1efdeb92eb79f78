"""Helpers of the review tests (imported by name: ``conftest`` is not unique across test dirs).

``Review`` is what the ``review`` fixture yields: the API client, its settings and the
AWS parts the tests look at, with helpers that start ``enrichment-review`` executions the
way the enricher does (staged entry, lock, execution input) and send review requests the
way the sync does.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from htmlform import form_pairs

from avs_api.auth import ApiKeyRecord, hash_key
from avs_api.review.intake import execution_task_id
from avs_api.review.model import ReviewTask
from avs_api.review.store import ReviewTaskStore
from avs_api.settings import ApiSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.embedding import HashingEmbedder
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.events import Envelope, ReviewKind, ReviewRequest, TraceContext
from avs_shared.schema import AnimeEntry
from avs_shared.settings import ServiceSettings
from avs_shared.topology import (
    Q_INDEXER_ENTRY_APPROVED,
    Q_REVIEW_REQUESTS,
    SM_ENRICHMENT_REVIEW,
    T_LOCKS,
    TOPIC_ENTRY_APPROVED,
)

REPO = Path(__file__).resolve().parents[2]
FULL_ENTRY = REPO / "tests" / "fixtures" / "schema" / "entry_full.json"
REVIEWER_KEY = "avs_test-reviewer-key-0123456789abcdef"
OPERATOR_KEY = "avs_test-operator-key-0123456789abcdef"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SECRET = "review-session-secret-for-tests-only"


def full_entry(anime_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """The full fixture entry (every kind of field, unknown keys included) as a new anime."""
    doc: dict[str, Any] = json.loads(FULL_ENTRY.read_text(encoding="utf-8"))
    doc["id"] = anime_id or str(uuid.uuid4())
    doc.pop("version", None)
    doc.pop("updated_at", None)
    doc.update(changes)
    return doc


async def eventually(check: Callable[[], Awaitable[Any]], *, within: float = 45.0, every: float = 0.1) -> Any:
    """The first truthy result of ``check()``; fails the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(every)


@dataclass
class Started:
    """One ``enrichment-review`` execution, started as the enricher starts it."""

    execution_arn: str
    anime_id: str
    entry_ref: str
    lock_owner: str
    correlation_id: str

    @property
    def task_id(self) -> str:
        return execution_task_id(self.execution_arn)


@dataclass
class Review:
    """The API, its settings, and the AWS parts the tests look at."""

    client: httpx.AsyncClient
    app: Any
    settings: ApiSettings
    aws: AwsClients
    store: ReviewTaskStore
    objects: S3ObjectStore
    entries: DynamoEntryStore

    # ------------------------------------------------------------------ API helpers
    async def api(self, method: str, path: str, *, key: str = REVIEWER_KEY, **kwargs: Any) -> httpx.Response:
        headers = {"X-API-Key": key, **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def login(
        self, client: httpx.AsyncClient | None = None, key: str = REVIEWER_KEY
    ) -> httpx.AsyncClient:
        """Sign ``client`` in through the login form (it keeps the session cookie)."""
        client = client or self.client
        page = await client.get("/review/login")
        assert page.status_code == 200, page.text
        pairs = dict(form_pairs(page.text.replace("<form method", '<form id="login" method', 1), "login"))
        pairs["api_key"] = key
        response = await post_form(client, "/review/login", pairs)
        assert response.status_code == 303, response.text
        return client

    # ------------------------------------------------------------------ AWS helpers
    async def queue_url(self, name: str) -> str:
        sqs = await self.aws.client("sqs")
        return str((await sqs.get_queue_url(QueueName=name))["QueueUrl"])

    async def topic_arn(self, name: str) -> str:
        sns = await self.aws.client("sns")
        topics = (await sns.list_topics())["Topics"]
        return next(t["TopicArn"] for t in topics if t["TopicArn"].endswith(f":{name}"))

    async def state_machine_arn(self) -> str:
        sfn = await self.aws.client("stepfunctions")
        machines = (await sfn.list_state_machines())["stateMachines"]
        return next(m["stateMachineArn"] for m in machines if m["name"] == SM_ENRICHMENT_REVIEW)

    async def start_review(
        self,
        entry: dict[str, Any],
        *,
        kind: str = "new",
        reason: str = "new anime in the offline database",
        timeout_seconds: int | None = None,
        traceparent: str = TRACEPARENT,
        base_version: int = 0,
    ) -> Started:
        """Stage the entry, take the lock and start the execution, as the enricher does."""
        anime_id = entry["id"]
        name = f"new-{anime_id}-{uuid.uuid4().hex[:16]}"
        key = f"staging/enriched/{anime_id}/{name}.json"
        await self.objects.put(key, json.dumps(entry).encode(), content_type="application/json")
        ddb = await self.aws.client("dynamodb")
        await ddb.put_item(
            TableName=T_LOCKS,
            Item={
                "anime_id": {"S": anime_id},
                "owner": {"S": name},
                "review_execution": {"S": name},
                "ttl": {"N": str(int(time.time()) + 86_400)},
            },
        )
        correlation_id = f"corr-{uuid.uuid4().hex[:12]}"
        request: dict[str, Any] = {
            "anime_id": anime_id,
            "entry_ref": key,
            "kind": kind,
            "reason": reason,
            "base_version": base_version,
            "lock_owner": name,
            "review_queue_url": await self.queue_url(Q_REVIEW_REQUESTS),
            "approved_topic_arn": await self.topic_arn(TOPIC_ENTRY_APPROVED),
            "correlation_id": correlation_id,
            "trace": {"traceparent": traceparent, "tracestate": "vendor=review-test"},
            "details": {"offline_only": False, "title": entry.get("title")},
        }
        if timeout_seconds is not None:
            request["timeout_seconds"] = timeout_seconds
        sfn = await self.aws.client("stepfunctions")
        resp = await sfn.start_execution(
            stateMachineArn=await self.state_machine_arn(), name=name, input=json.dumps(request)
        )
        return Started(resp["executionArn"], anime_id, key, name, correlation_id)

    async def task_of(self, started: Started, *, within: float = 45.0) -> ReviewTask:
        """The review task of an execution, once the intake has stored it."""
        return await eventually(lambda: self.store.get(started.task_id), within=within)

    async def execution(self, arn: str, *, status: str, within: float = 45.0) -> dict[str, Any]:
        sfn = await self.aws.client("stepfunctions")

        async def described() -> dict[str, Any] | None:
            resp: dict[str, Any] = await sfn.describe_execution(executionArn=arn)
            return resp if resp["status"] == status else None

        return await eventually(described, within=within)

    async def execution_status(self, arn: str) -> str:
        sfn = await self.aws.client("stepfunctions")
        return str((await sfn.describe_execution(executionArn=arn))["status"])

    async def lock_exists(self, anime_id: str) -> bool:
        ddb = await self.aws.client("dynamodb")
        resp = await ddb.get_item(TableName=T_LOCKS, Key={"anime_id": {"S": anime_id}}, ConsistentRead=True)
        return "Item" in resp

    async def send_sync_request(
        self, anime_id: str, kind: ReviewKind, *, details: dict[str, Any], reason: str = ""
    ) -> Envelope:
        """A review request as the sync sends it: an envelope straight onto the queue."""
        envelope = ReviewRequest(anime_id=anime_id, kind=kind, reason=reason, details=details).envelope(
            correlation_id=f"sync-{uuid.uuid4().hex[:8]}",
            trace=TraceContext(traceparent=TRACEPARENT),
        )
        sqs = await self.aws.client("sqs")
        await sqs.send_message(
            QueueUrl=await self.queue_url(Q_REVIEW_REQUESTS), MessageBody=envelope.to_json()
        )
        return envelope

    async def approved_events(self, *, at_least: int = 1, within: float = 45.0) -> list[Envelope]:
        """Receive (and delete) the entry-approved envelopes on the indexer's queue."""
        url = await self.queue_url(Q_INDEXER_ENTRY_APPROVED)
        sqs = await self.aws.client("sqs")
        found: list[Envelope] = []

        async def receive() -> bool:
            resp = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for message in resp.get("Messages", []):
                doc = json.loads(message["Body"])
                body = doc["Message"] if doc.get("Type") == "Notification" else message["Body"]
                found.append(Envelope.from_json(body))
                await sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return len(found) >= at_least

        await eventually(receive, within=within, every=0.2)
        return found

    async def queue_is_empty(self, name: str) -> bool:
        sqs = await self.aws.client("sqs")
        attrs = await sqs.get_queue_attributes(
            QueueUrl=await self.queue_url(name),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        values = attrs["Attributes"]
        return (
            values["ApproximateNumberOfMessages"] == "0"
            and values["ApproximateNumberOfMessagesNotVisible"] == "0"
        )

    async def stored_entry(self, key: str) -> dict[str, Any]:
        stored = await self.objects.get(key)
        doc: dict[str, Any] = json.loads(stored.body)
        return doc

    async def put_live(self, doc: dict[str, Any]) -> AnimeEntry:
        """Commit an entry as the indexer would (version 1 for a new one)."""
        return await self.entries.put(AnimeEntry.from_json_dict(doc), expected_version=None)


async def post_form(
    client: httpx.AsyncClient, url: str, pairs: list[tuple[str, str]] | dict[str, str], **kwargs: Any
) -> httpx.Response:
    """POST ``pairs`` as a browser posts a form (``application/x-www-form-urlencoded``, in order)."""
    items = list(pairs.items()) if isinstance(pairs, dict) else pairs
    headers = {"Content-Type": "application/x-www-form-urlencoded", **kwargs.pop("headers", {})}
    return await client.post(url, content=urlencode(items), headers=headers, **kwargs)


def api_settings(settings: ServiceSettings, data_dir: Path, **overrides: Any) -> ApiSettings:
    return ApiSettings(
        service_name="avs-api-review-test",
        data_dir=data_dir,
        redis_url=settings.redis_url,
        log_format="console",
        worker_poll_wait_seconds=1,
        rate_limit_enabled=False,
        api_keys=[
            ApiKeyRecord(name="rita", role="reviewer", sha256=hash_key(REVIEWER_KEY)),
            ApiKeyRecord(name="otto", role="operator", sha256=hash_key(OPERATOR_KEY)),
        ],
        review_session_secret=SECRET,
        **overrides,
    )


@dataclass(frozen=True)
class Vectors:
    index: EdgeVectorIndex
    embedder: HashingEmbedder
