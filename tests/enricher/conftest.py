"""Fixtures of the enricher's tests: the loopback fake providers, settings pointing at them,
the real HTTP path (redis-server cache and limits), and the enricher's ports on moto.

Every test gets its own Redis key prefix, so caches and rate limits never leak between
tests; the fakes are started per test (five loopback servers, a few milliseconds).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from avs_enricher.enrich import Enricher
from avs_enricher.ports import EnricherPorts, build_enricher_ports
from avs_enricher.providers import ProviderHttp, build_providers, http_options
from avs_enricher.settings import EnricherSettings
from avs_enricher.testing.fake_providers import FakeProviders
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.redis_limits import RedisLimits
from avs_shared.embedded.processes import RedisServer
from avs_shared.events import Envelope
from avs_shared.runtime import build_runtime

Drain = Callable[[str], Awaitable[list[dict[str, Any]]]]


@pytest.fixture
async def fakes() -> AsyncIterator[FakeProviders]:
    async with FakeProviders() as servers:
        yield servers


@pytest.fixture
def make_settings(
    fakes: FakeProviders, session_dir: Path, redis_server: RedisServer
) -> Callable[..., EnricherSettings]:
    """EnricherSettings against the fakes, fast limits and retries, a fresh Redis prefix per call."""

    def make(**overrides: Any) -> EnricherSettings:
        prefix = f"t-{uuid.uuid4().hex[:10]}:"
        values: dict[str, Any] = {
            "service_name": "avs-enricher-test",
            "data_dir": session_dir / "data",
            "redis_url": redis_server.url,
            "log_format": "console",
            "worker_poll_wait_seconds": 1,
            **fakes.settings_overrides(),
            "enricher_cache_key_prefix": f"{prefix}enr:",
            "enricher_rate_limit_key_prefix": f"{prefix}rl:",
            "enricher_timeout_seconds": 2.0,
            "enricher_retry_backoff_seconds": 0.01,
            "enricher_max_wait_seconds": 5.0,
            "enricher_anidb_seconds_per_request": 0.05,
            "enricher_jikan_per_second": 50,
            "enricher_kitsu_per_second": 50,
            "enricher_animeschedule_per_second": 50,
            "enricher_animeschedule_per_minute": 500,
            "enricher_jikan_per_minute": 500,
            "enricher_kitsu_per_minute": 500,
            "enricher_anilist_per_minute": 500,
        }
        values.update(overrides)
        return EnricherSettings(**values)

    return make


@pytest.fixture
def enricher_settings(make_settings: Callable[..., EnricherSettings]) -> EnricherSettings:
    return make_settings()


@pytest.fixture
async def open_http(redis_server: RedisServer) -> AsyncIterator[Callable[[EnricherSettings], ProviderHttp]]:
    """Build :class:`ProviderHttp` s (each like one process: its own session, cache and limiter)."""
    opened: list[tuple[ProviderHttp, RedisCache, RedisLimits]] = []

    def make(settings: EnricherSettings) -> ProviderHttp:
        cache = RedisCache(settings.redis_url, key_prefix=settings.enricher_cache_key_prefix)
        limits = RedisLimits(settings.redis_url, key_prefix=settings.enricher_rate_limit_key_prefix)
        http = ProviderHttp(cache=cache, limits=limits, options=http_options(settings))
        opened.append((http, cache, limits))
        return http

    yield make
    for http, cache, limits in opened:
        await http.close()
        await cache.close()
        await limits.close()


@pytest.fixture
def http(
    open_http: Callable[[EnricherSettings], ProviderHttp], enricher_settings: EnricherSettings
) -> ProviderHttp:
    return open_http(enricher_settings)


@pytest.fixture
def enricher(http: ProviderHttp, enricher_settings: EnricherSettings) -> Enricher:
    return Enricher(build_providers(enricher_settings, http), deadline_s=30)


@pytest.fixture
async def ports(
    provisioned: Provisioner, aws: AwsClients, enricher_settings: EnricherSettings, redis_server: RedisServer
) -> AsyncIterator[EnricherPorts]:
    """The enricher's ports on a freshly provisioned moto, against the fakes."""
    publisher, idempotency, claim_check = await build_runtime(aws, enricher_settings)
    cache = RedisCache(redis_server.url, key_prefix=enricher_settings.enricher_cache_key_prefix)
    limits = RedisLimits(redis_server.url, key_prefix=enricher_settings.enricher_rate_limit_key_prefix)
    built = build_enricher_ports(
        enricher_settings,
        aws,
        publisher=publisher,
        idempotency=idempotency,
        claim_check=claim_check,
        cache=cache,
        limits=limits,
    )
    yield built
    await built.http.close()
    await cache.close()
    await limits.close()


def envelope_of(body: str) -> Envelope:
    doc = json.loads(body)
    if isinstance(doc, dict) and doc.get("Type") == "Notification":  # SNS -> SQS, raw delivery off
        return Envelope.from_json(doc["Message"])
    return Envelope.from_json(body)


@pytest.fixture
def drain(aws: AwsClients) -> Drain:
    """Receive and delete every visible message of a queue: ``{"body", "attributes"}`` of each."""

    async def run(queue: str) -> list[dict[str, Any]]:
        sqs = await aws.client("sqs")
        url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]
        found: list[dict[str, Any]] = []
        while True:
            resp = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
            )
            batch = resp.get("Messages", [])
            if not batch:
                return found
            found.extend({"body": m["Body"], "attributes": m.get("MessageAttributes", {})} for m in batch)
            await sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)],
            )

    return run
