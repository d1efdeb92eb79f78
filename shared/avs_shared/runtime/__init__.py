"""The worker runtime: SQS polling, typed dispatch, idempotent handling, graceful stop.

A service declares :class:`HandlerSpec` s, builds the shared pieces with
:func:`build_runtime`, and runs a :class:`Worker` until :func:`stop_on_signals`
fires::

    publisher, idempotency, claim_check = await build_runtime(aws, settings)
    worker = Worker(specs, aws=aws, settings=settings, publisher=publisher,
                    idempotency=idempotency, claim_check=claim_check)
    await worker.run(stop_on_signals())
"""

from __future__ import annotations

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_idempotency import DynamoIdempotencyStore
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.sns import SnsPublisher
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.runtime.outcome import HandlerStats, Outcome
from avs_shared.runtime.signals import stop_on_signals
from avs_shared.runtime.spec import Handler, HandlerSpec, MessageContext
from avs_shared.runtime.worker import Worker
from avs_shared.settings import ServiceSettings
from avs_shared.topology import TOPOLOGY, Topology

__all__ = [
    "Handler",
    "HandlerSpec",
    "HandlerStats",
    "MessageContext",
    "Outcome",
    "Worker",
    "build_runtime",
    "stop_on_signals",
]


async def build_runtime(
    aws: AwsClients, settings: ServiceSettings, *, topology: Topology = TOPOLOGY
) -> tuple[SnsPublisher, DynamoIdempotencyStore, ClaimCheck]:
    """The publisher, idempotency store and claim check every worker needs, wired together.

    No I/O happens here; topic ARNs are looked up on the first publish.
    """
    claim_check = ClaimCheck(
        S3ObjectStore(aws, topology.bucket.name),
        threshold_bytes=settings.claim_check_threshold_bytes,
    )
    publisher = SnsPublisher(aws, claim_check, topology)
    idempotency = DynamoIdempotencyStore(aws, ttl_s=settings.idempotency_ttl_seconds)
    return publisher, idempotency, claim_check
