"""``avs dlq list|show|replay`` against the moto server, and the replayed messages processed by
the real image ingestor worker (loopback image server)."""

from __future__ import annotations

import asyncio
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner, Result

from avs_cli.main import cli
from avs_image_ingestor.bootstrap import all_specs
from avs_image_ingestor.ports import IngestorPorts, build_ingestor
from avs_image_ingestor.settings import ImageIngestorSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_image_map import DynamoImageMap
from avs_shared.adapters.provision import Provisioner
from avs_shared.embedded.processes import free_port
from avs_shared.events import Envelope, ImageRequested, RequestedImage
from avs_shared.runtime import Worker, build_runtime
from avs_shared.settings import ServiceSettings
from avs_shared.topology import Q_IMAGE_FAILURES, Q_IMAGE_REQUESTED, TOPOLOGY

DLQ = TOPOLOGY.queue(Q_IMAGE_REQUESTED).dlq_name
assert DLQ is not None


def png(seed: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes([0, seed % 256, seed // 256 % 256, 7]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class Images:
    """A loopback image server: ``/img/<n>.png`` is an image unless ``n`` is in ``missing``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.missing: set[int] = set()
        self.hits = 0
        self._runner: web.AppRunner | None = None

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/img/{n}.png"

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        n = int(request.match_info["n"])
        if n in self.missing:
            return web.Response(status=404, text="not found")
        return web.Response(body=png(n), content_type="image/png")

    async def __aenter__(self) -> Images:
        app = web.Application()
        app.router.add_get("/img/{n}.png", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def images() -> AsyncIterator[Images]:
    async with Images() as server:
        yield server


@pytest.fixture
async def ingestor_ports(
    provisioned: Provisioner, aws: AwsClients, settings: ServiceSettings
) -> AsyncIterator[IngestorPorts]:
    local = ImageIngestorSettings(
        service_name="avs-dlq-test",
        data_dir=settings.data_dir,
        redis_url=settings.redis_url,
        worker_poll_wait_seconds=1,
        log_format="console",
        image_allowed_networks=["127.0.0.0/8"],
        image_backoff_base_seconds=0.01,
        image_failure_retry_after_seconds=86_400,
    )
    publisher, idempotency, claim_check = await build_runtime(aws, local)
    ingestor = build_ingestor(local, aws, cache=None)
    yield IngestorPorts(local, aws, ingestor, publisher, idempotency, claim_check)
    await ingestor.downloader.close()


async def avs(*args: str) -> Result:
    """Run ``avs <args> --aws`` (the session's moto endpoint) in a thread with its own loop."""
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli, [*args, "--aws"], catch_exceptions=False)


async def url_of(aws: AwsClients, queue: str) -> str:
    sqs = await aws.client("sqs")
    return str((await sqs.get_queue_url(QueueName=queue))["QueueUrl"])


async def depth(aws: AwsClients, queue: str) -> int:
    sqs = await aws.client("sqs")
    attrs = (
        await sqs.get_queue_attributes(
            QueueUrl=await url_of(aws, queue),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def dead_letter_body(envelope: Envelope, n: int) -> str:
    """Half the bodies as SNS delivered them (notification JSON), half raw envelopes."""
    if n % 2:
        return envelope.to_json()
    return json.dumps({"Type": "Notification", "MessageId": f"sns-{n}", "Message": envelope.to_json()})


async def fill_dlq(aws: AwsClients, images: Images, count: int) -> list[Envelope]:
    """``count`` image-requested events dead-lettered the way the worker runtime does it."""
    sqs = await aws.client("sqs")
    url = await url_of(aws, DLQ)
    envelopes = [
        ImageRequested(
            anime_id=f"anime-{n}",
            images=[
                RequestedImage(url=images.url(n), kind="cover"),
                RequestedImage(url=images.url(n % 7 + 1000), kind="poster"),
            ],
        ).envelope(correlation_id=f"corr-{n}")
        for n in range(count)
    ]
    for start in range(0, count, 10):
        entries = [
            {
                "Id": str(i),
                "MessageBody": dead_letter_body(envelopes[start + i], start + i),
                "MessageAttributes": {
                    "error_reason": {"DataType": "String", "StringValue": "Retryable: S3 was down"},
                    "error_type": {"DataType": "String", "StringValue": "Retryable"},
                    "source_queue": {"DataType": "String", "StringValue": Q_IMAGE_REQUESTED},
                    "receive_count": {"DataType": "Number", "StringValue": "5"},
                    "traceparent": {
                        "DataType": "String",
                        "StringValue": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    },
                },
            }
            for i in range(min(10, count - start))
        ]
        await sqs.send_message_batch(QueueUrl=url, Entries=entries)
    return envelopes


@asynccontextmanager
async def running(ports: IngestorPorts) -> AsyncIterator[Worker]:
    worker = Worker(
        all_specs(ports),
        aws=ports.aws,
        settings=ports.settings,
        publisher=ports.publisher,
        idempotency=ports.idempotency,
        claim_check=ports.claim_check,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def until(check: Any, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def row(listing: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in listing if r["name"] == name)


async def test_replaying_a_dlq_of_50_moves_all_back_they_are_processed_and_a_rerun_moves_nothing(
    ingestor_ports: IngestorPorts, aws: AwsClients, images: Images
) -> None:
    envelopes = await fill_dlq(aws, images, 50)

    listed = await avs("dlq", "list", "--json")
    assert listed.exit_code == 0, listed.output
    dlq_row = row(json.loads(listed.output), DLQ)
    assert (dlq_row["visible"], dlq_row["target"], dlq_row["kind"]) == (50, Q_IMAGE_REQUESTED, "dead-letter")
    assert dlq_row["oldest_age_s"] is not None and not dlq_row["oldest_exact"]
    assert row(json.loads(listed.output), Q_IMAGE_FAILURES)["target"] == "image-requested"
    table = await avs("dlq", "list")
    assert DLQ in table.output and "visible" in table.output

    shown = await avs("dlq", "show", DLQ, "--limit", "4", "--json")
    assert shown.exit_code == 0, shown.output
    messages = json.loads(shown.output)
    assert len(messages) == 4
    by_id = {e.event_id: e for e in envelopes}
    for m in messages:
        assert m["event_type"] == "image-requested" and m["event_id"] in by_id
        assert m["anime_id"] == by_id[m["event_id"]].payload["anime_id"]  # type: ignore[index]
        assert (m["error_type"], m["error_reason"], m["source_receive_count"]) == (
            "Retryable",
            "Retryable: S3 was down",
            5,
        )
        assert m["source_queue"] == Q_IMAGE_REQUESTED and m["problem"] is None
    text = await avs("dlq", "show", DLQ, "--limit", "2")
    assert "error Retryable after 5 deliveries: Retryable: S3 was down" in text.output
    assert await depth(aws, DLQ) == 50, "showing leaves every message in the DLQ"

    dry = await avs("dlq", "replay", DLQ, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would move 50, skipped 0, failed 0; 50 left" in dry.output
    assert await depth(aws, Q_IMAGE_REQUESTED) == 0

    replay = await avs("dlq", "replay", DLQ)
    assert replay.exit_code == 0, replay.output
    assert f"{DLQ} -> {Q_IMAGE_REQUESTED} (receive-send-delete): moved 50, skipped 0, failed 0; 0 left" in (
        replay.output
    )
    assert "StartMessageMoveTask unavailable" in replay.output  # moto: the fallback was used
    assert await depth(aws, DLQ) == 0
    sqs = await aws.client("sqs")
    peek = await sqs.receive_message(
        QueueUrl=await url_of(aws, Q_IMAGE_REQUESTED),
        MaxNumberOfMessages=1,
        VisibilityTimeout=0,
        MessageAttributeNames=["All"],
    )
    attrs = peek["Messages"][0].get("MessageAttributes", {})
    assert "error_reason" not in attrs and "traceparent" in attrs, "dead-letter notes dropped, the rest kept"

    image_map = DynamoImageMap(aws, cdn_domain=ingestor_ports.settings.cdn_domain)
    urls = [images.url(n) for n in range(50)] + [images.url(1000 + n) for n in range(7)]
    async with running(ingestor_ports) as worker:

        async def all_processed() -> bool:
            return worker.stats["image-ingestor-image-requested"].processed == 50

        await until(all_processed)
    found = await image_map.lookup_many(urls)
    assert len(found) == 57 and {r.status for r in found.values()} == {"STORED"}
    assert images.hits == 57, "every URL downloaded once, shared ones too"
    assert await depth(aws, Q_IMAGE_REQUESTED) == 0

    again = await avs("dlq", "replay", DLQ)
    assert again.exit_code == 0, again.output
    assert "moved 0, skipped 0, failed 0; 0 left" in again.output


async def test_replaying_image_failures_republishes_them_and_they_are_retried_at_once(
    ingestor_ports: IngestorPorts, aws: AwsClients, images: Images
) -> None:
    images.missing = {1, 2, 3}
    ingestor = ingestor_ports.ingestor
    await ingestor.ingest(
        ImageRequested(
            anime_id="a",
            images=[
                RequestedImage(url=images.url(1), kind="cover"),
                RequestedImage(url=images.url(2), kind="banner"),
            ],
        )
    )
    await ingestor.ingest(
        ImageRequested(anime_id="b", images=[RequestedImage(url=images.url(3), kind="poster")])
    )
    sqs = await aws.client("sqs")
    await sqs.send_message(QueueUrl=await url_of(aws, Q_IMAGE_FAILURES), MessageBody='{"not": "a failure"}')
    assert await depth(aws, Q_IMAGE_FAILURES) == 4

    shown = json.loads((await avs("dlq", "show", Q_IMAGE_FAILURES, "--json")).output)
    failures = [m for m in shown if m["problem"] is None]
    assert sorted(m["anime_id"] for m in failures) == ["a", "a", "b"]
    assert all(m["error_reason"] == "HTTP 404 Not Found" for m in failures)

    images.missing = set()  # the images are back; their retry time is a day away
    replay = await avs("dlq", "replay", Q_IMAGE_FAILURES)
    assert replay.exit_code == 0, replay.output
    assert "(republish): moved 3, skipped 1, failed 0; 1 left" in replay.output
    assert "is not a failure record; left in place" in replay.output
    assert await depth(aws, Q_IMAGE_REQUESTED) == 2, "one image-requested per anime"

    async with running(ingestor_ports) as worker:

        async def both_processed() -> bool:
            return worker.stats["image-ingestor-image-requested"].processed == 2

        await until(both_processed)
    found = await DynamoImageMap(aws, cdn_domain="x").lookup_many([images.url(n) for n in (1, 2, 3)])
    assert {r.status for r in found.values()} == {"STORED"} and len(found) == 3

    again = await avs("dlq", "replay", Q_IMAGE_FAILURES)
    assert "moved 0, skipped 1, failed 0; 1 left" in again.output


async def test_unknown_queues_are_refused_with_the_valid_names(provisioned: Provisioner) -> None:
    result = await avs("dlq", "show", Q_IMAGE_REQUESTED)
    assert result.exit_code == 1
    assert f"its dead letters are in {DLQ}" in result.output
    assert "choose from:" in result.output and Q_IMAGE_FAILURES in result.output
    limited = await avs("dlq", "replay", "nope-dlq", "--limit", "0")
    assert limited.exit_code == 2, "click refuses --limit 0 before anything runs"
