"""Fixtures of the review tests: the real API app, the real intake worker, the real state machine.

* ``review`` (per test): the session's moto server (Step Functions execution on) with the
  topology provisioned once for all review tests and cleaned before each (review tasks,
  queued messages, waiting executions), and the API from ``create_app`` inside its
  lifespan behind an ``httpx`` client, with two API keys (``rita``, reviewer; ``otto``,
  operator), a hashing embedder and a Qdrant Edge shard shared by the review tests (the
  review never embeds; the lookups of the browser test read DynamoDB).
* ``intake``: the review intake (``avs_api``'s handler spec) running in a real worker
  on ``review-requests`` until the test ends.

The helpers are in ``review_kit`` (a module name of its own: every test directory has a
``conftest``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError
from review_kit import REPO, Review, Vectors, api_settings

from avs_api.app import create_app
from avs_api.review.store import ReviewTaskStore
from avs_api.review.wiring import intake_spec
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.embedding import HashingEmbedder
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.embedded.processes import MotoServer
from avs_shared.runtime import Worker, build_runtime
from avs_shared.settings import ServiceSettings
from avs_shared.topology import (
    Q_INDEXER_ENTRY_APPROVED,
    Q_REVIEW_REQUESTS,
    T_REVIEW_TASKS,
    TOPOLOGY,
)

SENTINEL = "staging/review-tests/provisioned"


@pytest.fixture
async def review_stack(moto_server: MotoServer, aws: AwsClients) -> None:
    """The topology, provisioned once for all review tests (seconds each time), and again
    only when another test module has reset moto since (the sentinel object is gone)."""
    objects = S3ObjectStore(aws)
    try:
        if await objects.head(SENTINEL) is not None:
            return
    except ClientError:  # no bucket at all
        pass
    moto_server.reset()
    await Provisioner(aws, TOPOLOGY, infra_dir=REPO / "infra").provision()
    await objects.put(SENTINEL, b"1")


async def _clean(aws: AwsClients) -> None:
    """Forget what a test left behind: review tasks, queued messages, waiting executions."""
    ddb = await aws.client("dynamodb")
    items = (await ddb.scan(TableName=T_REVIEW_TASKS, ProjectionExpression="task_id"))["Items"]
    for item in items:
        await ddb.delete_item(TableName=T_REVIEW_TASKS, Key={"task_id": item["task_id"]})
    sfn = await aws.client("stepfunctions")
    for machine in (await sfn.list_state_machines())["stateMachines"]:
        arn = machine["stateMachineArn"]
        running = await sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
        for execution in running["executions"]:
            await sfn.stop_execution(executionArn=execution["executionArn"])
    sqs = await aws.client("sqs")
    for name in (Q_REVIEW_REQUESTS, f"{Q_REVIEW_REQUESTS}-dlq", Q_INDEXER_ENTRY_APPROVED):
        # PurgeQueue is allowed once a minute: receive and delete instead.
        url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
        while batch := (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)).get("Messages"):
            for message in batch:
                await sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="session")
async def vectors(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Vectors]:
    """One Qdrant Edge shard for all review tests (opening one costs seconds; the review
    never embeds, and the lookups of the browser test read DynamoDB)."""
    embedder = HashingEmbedder()
    index = EdgeVectorIndex(tmp_path_factory.mktemp("review-vectors") / "qdrant-edge" / "anime")
    await index.ensure_collection(embedder.model_name, embedder.dimension)
    yield Vectors(index, embedder)
    await index.close()


@pytest.fixture
async def review(
    review_stack: None, vectors: Vectors, settings: ServiceSettings, aws: AwsClients, tmp_path: Path
) -> AsyncIterator[Review]:
    await _clean(aws)
    config = api_settings(settings, tmp_path)
    app = create_app(config, index=vectors.index, embedder=vectors.embedder)
    objects = S3ObjectStore(aws)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        yield Review(
            client=client,
            app=app,
            settings=config,
            aws=aws,
            store=ReviewTaskStore(aws),
            objects=objects,
            entries=DynamoEntryStore(aws, objects=objects),
        )


@pytest.fixture
async def intake(review: Review, settings: ServiceSettings, aws: AwsClients) -> AsyncIterator[Worker]:
    """The review intake consuming ``review-requests`` until the test ends."""
    publisher, idempotency, claim_check = await build_runtime(aws, settings)
    spec = intake_spec(store=review.store, objects=review.objects, entries=review.entries)
    # No long poll: a stopped worker's abandoned long poll would still take (and hide for a
    # visibility timeout) a message that arrives in that second, starving the next test.
    short_polls = settings.model_copy(update={"worker_poll_wait_seconds": 0})
    worker = Worker(
        [spec],
        aws=aws,
        settings=short_polls,
        publisher=publisher,
        idempotency=idempotency,
        claim_check=claim_check,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    yield worker
    stop.set()
    await asyncio.wait_for(task, timeout=30)
