"""Pure parts of the runtime: unwrapping, trace carriers, visibility clamping, contexts, signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest
from avs_runtime_testkit import anime_new, spec

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_idempotency import DynamoIdempotencyStore
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.sns import SnsPublisher
from avs_shared.errors import ConfigurationError
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.events.envelope import Envelope, TraceContext, derive_event_id
from avs_shared.events.types import AnimeNew, ImageRequested, RequestedImage
from avs_shared.runtime import HandlerSpec, MessageContext, Worker, stop_on_signals
from avs_shared.runtime.inbound import Decoded, Poison, sqs_string_attributes, unwrap
from avs_shared.runtime.queues import clamp_visibility
from avs_shared.settings import ServiceSettings

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def nothing(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
    return []


def test_unwrap_peels_an_sns_notification_and_its_attributes() -> None:
    env = anime_new().envelope()
    body = json.dumps(
        {
            "Type": "Notification",
            "MessageId": "m1",
            "Message": env.to_json(),
            "MessageAttributes": {
                "traceparent": {"Type": "String", "Value": TRACEPARENT},
                "event_type": {"Type": "String", "Value": "anime-new"},
            },
        }
    )
    got = unwrap(body, {"ignored": "because the SNS attributes win"})
    assert got.via_sns
    assert Envelope.from_json(got.text).event_id == env.event_id
    assert got.attributes == {"traceparent": TRACEPARENT, "event_type": "anime-new"}


def test_unwrap_accepts_a_raw_envelope_with_sqs_attributes() -> None:
    env = anime_new().envelope()
    message = {"MessageAttributes": {"traceparent": {"DataType": "String", "StringValue": TRACEPARENT}}}
    got = unwrap(env.to_json(), sqs_string_attributes(message))
    assert not got.via_sns
    assert got.text == env.to_json()
    assert got.attributes == {"traceparent": TRACEPARENT}


def test_unwrap_rejects_a_body_that_is_not_json() -> None:
    with pytest.raises(Poison) as caught:
        unwrap("<xml/>", {})
    assert caught.value.error_type == "JSONDecodeError"


def test_trace_carrier_prefers_the_envelope_then_the_attributes() -> None:
    own = "00-11111111111111111111111111111111-2222222222222222-01"
    with_trace = anime_new().envelope(trace=TraceContext(traceparent=own))
    without = anime_new().envelope()
    payload = AnimeNew.model_validate(without.payload)
    attrs = {"traceparent": TRACEPARENT, "tracestate": "k=v"}
    assert Decoded(with_trace, payload, attrs).trace_carrier() == {"traceparent": own}
    assert Decoded(without, payload, attrs).trace_carrier() == attrs
    assert Decoded(without, payload, {}).trace_carrier() == {}


@pytest.mark.parametrize(("asked", "sent"), [(-5, 0), (0, 0), (0.2, 1), (1, 1), (30.5, 31), (10**6, 43_200)])
def test_retry_delays_are_clamped_to_what_sqs_accepts(asked: float, sent: int) -> None:
    assert clamp_visibility(asked) == sent


def test_follow_up_ids_are_deterministic_per_message_handler_and_index() -> None:
    env = anime_new().envelope()
    ctx = MessageContext(envelope=env, receive_count=1, queue="q", handler="h")
    again = MessageContext(envelope=env, receive_count=3, queue="q", handler="h")
    other = MessageContext(envelope=env, receive_count=1, queue="q", handler="other")
    assert ctx.follow_up_id(0) == again.follow_up_id(0) == derive_event_id(env.event_id, "h", "0")
    assert len({ctx.follow_up_id(0), ctx.follow_up_id(1), other.follow_up_id(0)}) == 3
    follow = ctx.follow_up(
        ImageRequested(anime_id="a", images=[RequestedImage(url="https://x/y.jpg", kind="cover")]), 1
    )
    assert follow.event_id == ctx.follow_up_id(1)
    assert follow.correlation_id == env.correlation_id
    assert follow.event_type == "image-requested"


def test_handler_spec_rejects_names_that_break_idempotency_keys() -> None:
    with pytest.raises(ValueError, match="#"):
        HandlerSpec(name="a#b", queue="q", payload_type=AnimeNew, handle=nothing)
    with pytest.raises(ValueError, match="concurrency"):
        HandlerSpec(name="a", queue="q", payload_type=AnimeNew, handle=nothing, concurrency=0)


def _worker(specs: list[HandlerSpec[AnimeNew]], aws: AwsClients, settings: ServiceSettings) -> Worker:
    claim_check = ClaimCheck(S3ObjectStore(aws))
    return Worker(
        specs,
        aws=aws,
        settings=settings,
        publisher=SnsPublisher(aws, claim_check),
        idempotency=DynamoIdempotencyStore(aws),
        claim_check=claim_check,
    )


async def test_worker_refuses_two_handlers_on_one_queue(aws: AwsClients, settings: ServiceSettings) -> None:
    with pytest.raises(ConfigurationError, match="one handler per worker"):
        _worker([spec(nothing, name="a"), spec(nothing, name="b")], aws, settings)


async def test_worker_refuses_a_queue_not_in_the_catalogue(
    aws: AwsClients, settings: ServiceSettings
) -> None:
    odd = HandlerSpec(name="odd", queue="no-such-queue", payload_type=AnimeNew, handle=nothing)
    with pytest.raises(ConfigurationError, match="no-such-queue"):
        await _worker([odd], aws, settings).run(asyncio.Event())


async def test_first_sigterm_sets_the_stop_event() -> None:
    loop = asyncio.get_running_loop()
    stop = stop_on_signals(loop)
    try:
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), timeout=5)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)
