"""SnsPublisher against the moto server: routing, attributes, trace context, claim check."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.sns import SnsPublisher
from avs_shared.errors import ConfigurationError
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.events.envelope import Envelope, TraceContext
from avs_shared.events.types import EntryApproved, ImageRequested, RequestedImage, ReviewKind, ReviewRequest
from avs_shared.topology import Q_IMAGE_REQUESTED, Q_INDEXER_ENTRY_APPROVED, TOPIC_ANIME_NEW

OWN_TRACE = "00-11111111111111111111111111111111-2222222222222222-01"


@pytest.fixture
def claim_check(provisioned: Provisioner, aws: AwsClients) -> ClaimCheck:
    return ClaimCheck(S3ObjectStore(aws), threshold_bytes=10_000)


async def notifications(aws: AwsClients, queue: str) -> list[dict[str, Any]]:
    sqs = await aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]
    resp = await sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
    )
    # Raw delivery (every subscription of the catalogue): the body is the published
    # message and the SNS message attributes arrive as SQS message attributes.
    return [
        {
            "Message": m["Body"],
            "MessageAttributes": {
                k: {"Value": v["StringValue"]} for k, v in m.get("MessageAttributes", {}).items()
            },
        }
        for m in resp.get("Messages", [])
    ]


def image() -> ImageRequested:
    cover = RequestedImage(url="https://cdn.example/a.jpg", kind="cover")
    return ImageRequested(anime_id="a1", images=[cover])


async def test_publish_routes_by_event_type_with_attributes(aws: AwsClients, claim_check: ClaimCheck) -> None:
    publisher = SnsPublisher(aws, claim_check)
    env = image().envelope(correlation_id="corr-1")

    message_id = await publisher.publish(env)

    (note,) = await notifications(aws, Q_IMAGE_REQUESTED)
    assert message_id  # SNS's id; raw delivery gives the SQS copy an id of its own
    assert Envelope.from_json(note["Message"]).event_id == env.event_id
    attrs = {k: v["Value"] for k, v in note["MessageAttributes"].items()}
    assert attrs == {"event_type": "image-requested", "correlation_id": "corr-1"}, "no empty trace attributes"
    assert await notifications(aws, Q_INDEXER_ENTRY_APPROVED) == []


async def test_publish_fills_the_trace_context_from_the_current_span(
    aws: AwsClients, claim_check: ClaimCheck
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    publisher = SnsPublisher(aws, claim_check, tracer_provider=provider)

    with provider.get_tracer("test").start_as_current_span("caller") as caller:
        await publisher.publish(image().envelope())

    (note,) = await notifications(aws, Q_IMAGE_REQUESTED)
    wire = Envelope.from_json(note["Message"])
    (publish,) = [s for s in exporter.get_finished_spans() if s.name == "image-requested publish"]
    assert wire.trace.traceparent == note["MessageAttributes"]["traceparent"]["Value"]
    assert wire.trace.traceparent is not None
    assert wire.trace.traceparent.split("-")[1:3] == [
        f"{caller.get_span_context().trace_id:032x}",
        f"{publish.context.span_id:016x}",
    ]


async def test_publish_keeps_a_trace_context_the_envelope_already_has(
    aws: AwsClients, claim_check: ClaimCheck
) -> None:
    publisher = SnsPublisher(aws, claim_check, tracer_provider=TracerProvider())
    env = image().envelope(trace=TraceContext(traceparent=OWN_TRACE, tracestate="v=1"))

    await publisher.publish(env)

    (note,) = await notifications(aws, Q_IMAGE_REQUESTED)
    assert Envelope.from_json(note["Message"]).trace == env.trace
    assert note["MessageAttributes"]["tracestate"]["Value"] == "v=1"


async def test_a_big_payload_is_published_by_reference(aws: AwsClients, claim_check: ClaimCheck) -> None:
    publisher = SnsPublisher(aws, claim_check)
    env = EntryApproved(anime_id="a1", entry_ref="staging/entries/a1.json", notes="x" * 50_000).envelope()

    await publisher.publish(env)

    (note,) = await notifications(aws, Q_INDEXER_ENTRY_APPROVED)
    wire = Envelope.from_json(note["Message"])
    assert wire.payload is None and wire.payload_ref is not None
    assert await claim_check.resolve(wire) == env.payload


async def test_an_event_type_without_a_topic_is_a_configuration_error(
    aws: AwsClients, claim_check: ClaimCheck
) -> None:
    publisher = SnsPublisher(aws, claim_check)
    review = ReviewRequest(anime_id="a1", kind=ReviewKind.NEW).envelope()
    with pytest.raises(ConfigurationError, match="review-request"):
        await publisher.publish(review)
    # an explicit topic is honoured
    await publisher.publish(image().envelope(), topic=TOPIC_ANIME_NEW)


async def test_topic_arns_are_resolved_once(aws: AwsClients, claim_check: ClaimCheck) -> None:
    publisher = SnsPublisher(aws, claim_check)
    arn = await publisher.topic_arn(TOPIC_ANIME_NEW)
    sns = await aws.client("sns")
    await sns.delete_topic(TopicArn=arn)

    assert await publisher.topic_arn(TOPIC_ANIME_NEW) == arn, "served from the cache, not looked up again"
    with pytest.raises(ConfigurationError, match="anime-new"):
        await SnsPublisher(aws, claim_check).topic_arn(TOPIC_ANIME_NEW)


async def test_publish_many_batches_across_topics_in_order(aws: AwsClients, claim_check: ClaimCheck) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    publisher = SnsPublisher(aws, claim_check, tracer_provider=provider)
    images = [
        ImageRequested(
            anime_id=f"a{i}", images=[RequestedImage(url=f"https://cdn.example/{i}.jpg", kind="cover")]
        ).envelope(correlation_id="corr-batch")
        for i in range(23)
    ]
    # One payload over the claim-check threshold travels by reference.
    big = ImageRequested(
        anime_id="big",
        images=[RequestedImage(url=f"https://cdn.example/c/{n}.jpg", kind="character") for n in range(400)],
    ).envelope(correlation_id="corr-batch")
    approved = [
        EntryApproved(anime_id=f"a{i}", entry_ref=f"staging/a{i}.json").envelope(correlation_id="corr-batch")
        for i in range(3)
    ]
    envelopes = [*images[:10], approved[0], big, *images[10:], *approved[1:]]

    with provider.get_tracer("test").start_as_current_span("caller") as caller:
        ids = await publisher.publish_many(envelopes)

    assert len(ids) == len(envelopes) and all(ids) and len(set(ids)) == len(ids)
    received: list[dict[str, Any]] = []
    for _ in range(10):
        received += await notifications(aws, Q_IMAGE_REQUESTED)
    by_event = {Envelope.from_json(n["Message"]).event_id: n for n in received}
    assert set(by_event) == {e.event_id for e in [*images, big]}
    wire_big = Envelope.from_json(by_event[big.event_id]["Message"])
    assert wire_big.payload is None and wire_big.payload_ref is not None
    assert await claim_check.resolve(wire_big) == big.payload
    trace_id = f"{caller.get_span_context().trace_id:032x}"
    assert {Envelope.from_json(n["Message"]).trace.traceparent.split("-")[1] for n in received} == {trace_id}
    approved_notes: list[dict[str, Any]] = []
    for _ in range(3):
        approved_notes += await notifications(aws, Q_INDEXER_ENTRY_APPROVED)
    approved_ids = {Envelope.from_json(n["Message"]).event_id for n in approved_notes}
    assert approved_ids == {e.event_id for e in approved}
    assert await publisher.publish_many([]) == []
