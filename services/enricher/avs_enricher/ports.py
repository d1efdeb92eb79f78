"""The parts the enricher's handlers use, built from settings in one place."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from avs_enricher.enrich import Enricher
from avs_enricher.providers import ProviderHttp, build_providers, http_options
from avs_enricher.review import ReviewStarter
from avs_enricher.settings import EnricherSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.redis_limits import RedisLimits
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.ports.entries import EntryStore
from avs_shared.ports.messaging import Publisher
from avs_shared.ports.storage import Cache, IdempotencyStore
from avs_shared.runtime import build_runtime
from avs_shared.runtime.context import RunContext
from avs_shared.settings import load_settings


@dataclass(frozen=True)
class EnricherPorts:
    settings: EnricherSettings
    aws: AwsClients
    entries: EntryStore
    publisher: Publisher
    idempotency: IdempotencyStore
    claim_check: ClaimCheck
    http: ProviderHttp
    enricher: Enricher
    review: ReviewStarter


def build_enricher_ports(
    settings: EnricherSettings,
    aws: AwsClients,
    *,
    publisher: Publisher,
    idempotency: IdempotencyStore,
    claim_check: ClaimCheck,
    cache: Cache,
    limits: RedisLimits,
) -> EnricherPorts:
    """Wire the parts; no I/O (the HTTP session and AWS lookups start on first use)."""
    objects = S3ObjectStore(aws)
    http = ProviderHttp(cache=cache, limits=limits, options=http_options(settings))
    return EnricherPorts(
        settings=settings,
        aws=aws,
        entries=DynamoEntryStore(aws, objects=objects),
        publisher=publisher,
        idempotency=idempotency,
        claim_check=claim_check,
        http=http,
        enricher=Enricher(
            build_providers(settings, http), deadline_s=settings.enricher_provider_deadline_seconds
        ),
        review=ReviewStarter(
            aws,
            objects,
            timeout_s=settings.enricher_review_timeout_seconds,
            heartbeat_s=settings.enricher_review_heartbeat_seconds,
        ),
    )


def enricher_ports(ctx: RunContext) -> EnricherPorts:
    """The ports inside the all-in-one runner (the enricher's own settings read from the environment)."""

    def build() -> EnricherPorts:
        settings = load_settings(EnricherSettings)
        cache = RedisCache(settings.redis_url, key_prefix=settings.enricher_cache_key_prefix)
        limits = RedisLimits(settings.redis_url, key_prefix=settings.enricher_rate_limit_key_prefix)
        ports = build_enricher_ports(
            settings,
            ctx.aws,
            publisher=ctx.publisher,
            idempotency=ctx.idempotency,
            claim_check=ctx.claim_check,
            cache=cache,
            limits=limits,
        )
        ctx.resources.push_async_callback(cache.close)
        ctx.resources.push_async_callback(limits.close)
        ctx.resources.push_async_callback(ports.http.close)
        return ports

    return ctx.component("enricher-ports", build)


@contextlib.asynccontextmanager
async def open_enricher_ports(settings: EnricherSettings) -> AsyncIterator[EnricherPorts]:
    """The ports for a process of its own (the enricher container)."""
    async with contextlib.AsyncExitStack() as stack:
        aws = await stack.enter_async_context(AwsClients(settings))
        publisher, idempotency, claim_check = await build_runtime(aws, settings)
        cache = RedisCache(settings.redis_url, key_prefix=settings.enricher_cache_key_prefix)
        stack.push_async_callback(cache.close)
        limits = RedisLimits(settings.redis_url, key_prefix=settings.enricher_rate_limit_key_prefix)
        stack.push_async_callback(limits.close)
        ports = build_enricher_ports(
            settings,
            aws,
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
            cache=cache,
            limits=limits,
        )
        stack.push_async_callback(ports.http.close)
        yield ports
