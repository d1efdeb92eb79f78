"""SNS → SQS → Worker end to end: the claim check and the trace context survive the trip."""

from __future__ import annotations

from avs_runtime_testkit import Kit, anime_new, eventually, spec
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.sns import SnsPublisher
from avs_shared.events.envelope import Envelope
from avs_shared.events.types import AnimeNew, ImageRequested, RequestedImage
from avs_shared.runtime import MessageContext
from avs_shared.topology import Q_ENRICHER_ANIME_NEW, Q_IMAGE_REQUESTED

NAME = "test-enricher"
SNS_LIMIT = 256 * 1024


def local_tracing() -> tuple[TracerProvider, InMemorySpanExporter]:
    """A provider of our own: the global one stays untouched for other tests."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def test_a_1mb_payload_travels_by_claim_check_end_to_end(kit: Kit) -> None:
    blob = "x" * 1_000_000
    received: list[tuple[AnimeNew, Envelope]] = []

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        received.append((evt, ctx.envelope))
        return []

    env = anime_new(blob=blob).envelope()
    assert len(env.to_json()) > 1_000_000
    await kit.publisher.publish(env)

    # Look at the message on the wire without consuming it (visibility 0).
    sqs = await kit.aws.client("sqs")
    resp = await sqs.receive_message(
        QueueUrl=await kit.url(Q_ENRICHER_ANIME_NEW), WaitTimeSeconds=1, VisibilityTimeout=0
    )
    (raw,) = resp["Messages"]
    assert len(raw["Body"].encode()) < SNS_LIMIT
    wire = Envelope.from_json(raw["Body"])  # raw delivery: the envelope itself
    assert wire.payload is None
    assert wire.payload_ref == f"staging/claims/{env.event_id}.json"
    assert await S3ObjectStore(kit.aws).head(wire.payload_ref) is not None

    worker = kit.worker(spec(handle))
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].processed == 1)

    ((evt, seen),) = received
    assert evt.offline_record["blob"] == blob
    assert env.payload is not None and evt.anime_id == env.payload["anime_id"]
    assert seen.payload_ref == wire.payload_ref


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


async def test_the_trace_context_survives_sns_to_sqs_and_continues_into_follow_ups(kit: Kit) -> None:
    provider, exporter = local_tracing()
    publisher = SnsPublisher(kit.aws, kit.claim_check, tracer_provider=provider)
    inside: list[trace.SpanContext] = []

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        inside.append(trace.get_current_span().get_span_context())
        image = ImageRequested(
            anime_id=evt.anime_id, images=[RequestedImage(url="https://cdn/a.jpg", kind="cover")]
        )
        return [ctx.follow_up(image)]

    with provider.get_tracer("test").start_as_current_span("weekly-sync") as root:
        await publisher.publish(anime_new().envelope())
    worker = kit.worker(spec(handle), publisher=publisher, tracer_provider=provider)
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].processed == 1)

    spans = list(exporter.get_finished_spans())
    trace_id = root.get_span_context().trace_id
    publish = _one(spans, "anime-new publish")
    handler = _one(spans, f"{NAME} process")
    follow = _one(spans, "image-requested publish")
    assert {publish.context.trace_id, handler.context.trace_id, follow.context.trace_id} == {trace_id}
    assert publish.parent is not None and publish.parent.span_id == root.get_span_context().span_id
    assert handler.parent is not None and handler.parent.span_id == publish.context.span_id
    assert handler.parent.is_remote, "the parent came over the wire"
    assert handler.kind is trace.SpanKind.CONSUMER
    assert inside[0].span_id == handler.context.span_id, "the handler runs inside its span"
    assert follow.parent is not None and follow.parent.span_id == handler.context.span_id

    (msg,) = await kit.drain_queue(Q_IMAGE_REQUESTED)
    # Raw delivery: the envelope is the body, the SNS message attributes are SQS ones.
    wire = Envelope.from_json(msg["Body"])
    attributes = {k: v["StringValue"] for k, v in msg["MessageAttributes"].items()}
    assert wire.trace.traceparent == attributes["traceparent"]
    assert wire.trace.traceparent is not None
    assert wire.trace.traceparent.split("-")[1:3] == [f"{trace_id:032x}", f"{follow.context.span_id:016x}"]
    assert attributes["event_type"] == "image-requested"
    assert attributes["correlation_id"] == wire.correlation_id


async def test_trace_context_is_taken_from_message_attributes_when_the_envelope_has_none(kit: Kit) -> None:
    provider, exporter = local_tracing()

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        return []

    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    env = anime_new().envelope()
    assert env.trace.traceparent is None
    await kit.send(env, attributes={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    worker = kit.worker(spec(handle), tracer_provider=provider)
    async with kit.running(worker):
        await eventually(lambda: worker.stats[NAME].processed == 1)

    handler = _one(list(exporter.get_finished_spans()), f"{NAME} process")
    assert f"{handler.context.trace_id:032x}" == trace_id
    assert handler.parent is not None and f"{handler.parent.span_id:016x}" == parent_id
