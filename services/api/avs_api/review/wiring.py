"""Composition of the review parts: the intake worker (for the registry of ``avs run`` and
``python -m avs_api``'s workers) and the service the routes use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import structlog

from avs_api.review.callbacks import TaskCallbacks
from avs_api.review.intake import INTAKE_HANDLER, ReviewIntake, adapt_state_machine_message, on_review_request
from avs_api.review.service import ReviewService
from avs_api.review.store import ReviewTaskStore
from avs_api.settings import ApiSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.sns import SnsPublisher
from avs_shared.events import Envelope
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.ports.entries import EntryStore
from avs_shared.ports.storage import ObjectStore
from avs_shared.runtime import Worker, build_runtime
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.spec import HandlerSpec, MessageContext
from avs_shared.settings import load_settings
from avs_shared.topology import Q_REVIEW_REQUESTS, S_REVIEW_HEARTBEAT

log = structlog.get_logger(__name__)


def intake_spec(
    *, store: ReviewTaskStore, objects: ObjectStore, entries: EntryStore, concurrency: int = 8
) -> HandlerSpec[ReviewIntake]:
    """``review-requests`` → ``anime-review-tasks``, for both message shapes."""

    async def handle(payload: ReviewIntake, ctx: MessageContext) -> Sequence[Envelope]:
        return await on_review_request(payload, ctx, store=store, objects=objects, entries=entries)

    return HandlerSpec(
        INTAKE_HANDLER,
        Q_REVIEW_REQUESTS,
        ReviewIntake,
        handle,
        concurrency=concurrency,
        raw=adapt_state_machine_message,
    )


def handler_specs(ctx: RunContext) -> list[HandlerSpec[Any]]:
    """The API's queue consumers: the review intake. No I/O here."""
    settings = _settings(ctx)
    objects = S3ObjectStore(ctx.aws)
    store = ReviewTaskStore(ctx.aws, stale_after_s=settings.review_claim_stale_seconds)
    entries = DynamoEntryStore(ctx.aws, objects=objects)
    return [
        intake_spec(
            store=store, objects=objects, entries=entries, concurrency=ctx.settings.worker_concurrency
        )
    ]


def review_service(
    aws: AwsClients,
    settings: ApiSettings,
    *,
    objects: S3ObjectStore,
    entries: EntryStore,
) -> ReviewService:
    """The service behind the review routes (no I/O: clients connect on first use)."""
    claim_check = ClaimCheck(objects, threshold_bytes=settings.claim_check_threshold_bytes)
    return ReviewService(
        store=ReviewTaskStore(aws, stale_after_s=settings.review_claim_stale_seconds),
        objects=objects,
        entries=entries,
        callbacks=TaskCallbacks(aws),
        publisher=SnsPublisher(aws, claim_check),
    )


def review_cron_jobs(ctx: RunContext) -> dict[str, Callable[[datetime], Awaitable[object]]]:
    """``review-heartbeat``: keep pending Step Functions reviews alive, close expired ones."""
    settings = _settings(ctx)
    objects = S3ObjectStore(ctx.aws)
    service = review_service(
        ctx.aws, settings, objects=objects, entries=DynamoEntryStore(ctx.aws, objects=objects)
    )

    async def heartbeat(due: datetime) -> object:
        return await service.heartbeat_pending()

    return {S_REVIEW_HEARTBEAT: heartbeat}


def _settings(ctx: RunContext) -> ApiSettings:
    # The runner's settings are the common ones; the API's own come from the environment.
    return ctx.settings if isinstance(ctx.settings, ApiSettings) else load_settings(ApiSettings)


@contextlib.asynccontextmanager
async def intake_worker(
    aws: AwsClients, settings: ApiSettings, *, entries: EntryStore
) -> AsyncIterator[Worker]:
    """Run the review intake in this process until the block ends (``AVS_API_RUN_WORKERS``:
    the API alone in its container; under ``avs run`` the runner's workers do it)."""
    publisher, idempotency, claim_check = await build_runtime(aws, settings)
    store = ReviewTaskStore(aws, stale_after_s=settings.review_claim_stale_seconds)
    objects = S3ObjectStore(aws)
    spec = intake_spec(store=store, objects=objects, entries=entries, concurrency=settings.worker_concurrency)
    worker = Worker(
        [spec],
        aws=aws,
        settings=settings,
        publisher=publisher,
        idempotency=idempotency,
        claim_check=claim_check,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="api-review-intake")
    try:
        yield worker
    finally:
        stop.set()
        try:
            await task
        except Exception:  # a broken worker must not hide why the app stops
            log.exception("review.intake_worker_failed")
