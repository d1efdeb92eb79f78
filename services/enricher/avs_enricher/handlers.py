"""The enricher's message handlers: a new anime, and one episode of a live anime.

Both end the same way: the entry is staged in S3 and an ``enrichment-review`` execution
waits for a person (see :mod:`avs_enricher.review` for the contract). Both are
idempotent: the execution name comes from the event id (a redelivery finds its own
execution), the staged object is written once, and the image request has an id derived
from the anime and its URLs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from opentelemetry import trace
from pydantic import ValidationError

from avs_enricher.assembly import ProviderOutcome
from avs_enricher.ports import EnricherPorts
from avs_enricher.refresh import record_from_entry, refresh_episode, refreshed_entry
from avs_enricher.review import execution_name, staging_key
from avs_shared.adapters.sns import current_trace_context
from avs_shared.errors import Permanent, Retryable
from avs_shared.events import (
    AnimeNew,
    Envelope,
    EpisodeUpdate,
    ImageRequested,
    RequestedImage,
    ReviewKind,
    derive_event_id,
)
from avs_shared.runtime.spec import MessageContext
from avs_shared.schema import AnimeEntry, OfflineRecord, image_urls

log = structlog.get_logger(__name__)
tracer = trace.get_tracer("avs.enricher")

EPISODE_ATTEMPTS = 3  # deliveries of an episode update before it is dead-lettered


def image_request(entry: AnimeEntry, correlation_id: str) -> Envelope | None:
    """One ``image-requested`` for all of the entry's images (None without images); its id comes
    from the anime and its URLs, as the indexer's, so the same request is never handled twice."""
    images = [RequestedImage(url=r.url, kind=r.kind, context={"label": r.context}) for r in image_urls(entry)]
    if not images:
        return None
    return ImageRequested(anime_id=entry.id, images=images).envelope(
        event_id=derive_event_id("image-requested", entry.id, *sorted({i.url for i in images})),
        correlation_id=correlation_id,
    )


async def start_review(
    ports: EnricherPorts,
    ctx: MessageContext,
    entry: AnimeEntry,
    *,
    name: str,
    kind: ReviewKind,
    reason: str,
    base_version: int,
    details: dict[str, Any],
) -> str:
    """Stage ``entry`` and start its review execution; returns the execution ARN."""
    key = staging_key(entry.id, name)
    await ports.review.stage(key, entry)
    targets = await ports.review.targets()
    with tracer.start_as_current_span(
        f"{targets.state_machine_arn.rsplit(':', 1)[-1]} start",
        kind=trace.SpanKind.PRODUCER,
        attributes={"avs.anime_id": entry.id, "avs.execution": name, "avs.review_kind": kind.value},
    ):
        context = current_trace_context()
        request = {
            "anime_id": entry.id,
            "entry_ref": key,
            "kind": kind.value,
            "reason": reason,
            "base_version": base_version,
            "lock_owner": name,
            "review_queue_url": targets.review_queue_url,
            "approved_topic_arn": targets.approved_topic_arn,
            "correlation_id": ctx.envelope.correlation_id,
            "trace": context.model_dump(exclude_none=True),
            "timeout_seconds": ports.review.timeout_s,
            "heartbeat_seconds": ports.review.heartbeat_s,
            "details": {**details, "title": entry.title, "source_event_id": ctx.envelope.event_id},
        }
        arn, started = await ports.review.start(name, request)
    log.info("review started" if started else "review was already started", anime_id=entry.id, execution=arn)
    return arn


async def on_anime_new(event: AnimeNew, ctx: MessageContext, *, ports: EnricherPorts) -> Sequence[Envelope]:
    """Enrich a new anime, stage it, request its images and start its review (once).

    An ``anime-new`` about an anime that is live already is stale when its reason is
    ``new`` (it was approved meanwhile): nothing happens. With another reason (the
    scheduler's ``premiere``) the live entry is refreshed from the providers and the change
    goes to review as ``status_changed``.
    """
    live = await ports.entries.get(event.anime_id, consistent=True)
    if live is not None and event.reason == "new":
        log.info("anime already live: no new review", anime_id=event.anime_id)
        return []
    if live is not None:
        record = record_from_entry(live)
    else:
        try:
            record = OfflineRecord.from_json_dict(event.offline_record)
        except ValidationError as exc:
            raise Permanent(
                f"anime-new {event.anime_id}: offline_record is not an offline-database record: {exc}"
            ) from exc
    name = execution_name("new", event.anime_id, ctx.envelope.event_id)
    holder = await ports.review.claim_lock(event.anime_id, name)
    if holder is not None:
        log.info("anime already under review: no second review", anime_id=event.anime_id, review=holder)
        return []
    try:
        assembled = await ports.enricher.enrich(event.anime_id, record)
    except ValidationError as exc:
        await ports.review.release_claim(event.anime_id, name)
        raise Permanent(f"anime-new {event.anime_id}: the assembled entry is invalid: {exc}") from exc
    entry: AnimeEntry | None = assembled.entry
    reason = event.reason or "new"
    if live is not None:
        entry = None if assembled.offline_only else refreshed_entry(live, assembled.entry)
        if entry is None:
            await ports.review.release_claim(event.anime_id, name)
            log.info("nothing new from the providers: no review", anime_id=event.anime_id, reason=reason)
            return []
        reason += f": refreshed from the providers (status {live.status.value} -> {entry.status.value})"
    elif assembled.offline_only:
        reason += "; no provider answered: the entry is the offline record alone"
    assert entry is not None
    images = image_request(entry, ctx.envelope.correlation_id)
    if images is not None:
        await ports.publisher.publish(images)
    meta = assembled.entry.enrichment_metadata
    providers = (meta.model_extra or {}).get("providers", {}) if meta is not None else {}
    await start_review(
        ports,
        ctx,
        entry,
        name=name,
        kind=ReviewKind.NEW if live is None else ReviewKind.STATUS_CHANGED,
        reason=reason,
        base_version=0 if live is None else live.version,
        details={
            "offline_only": assembled.offline_only,
            "providers": {p: v.get("status") for p, v in providers.items() if isinstance(v, dict)},
            "dropped": assembled.dropped,
        },
    )
    await ports.review.extend_lock(event.anime_id, name)
    return []


async def on_episode_update(
    event: EpisodeUpdate, ctx: MessageContext, *, ports: EnricherPorts
) -> Sequence[Envelope]:
    """Refresh one episode of a live anime and send the changed entry to review."""
    live = await ports.entries.get(event.anime_id, consistent=True)
    if live is None:
        raise Permanent(
            f"episode update for {event.anime_id}: no such anime in the catalogue (a stale schedule?)"
        )
    number = event.episode_number
    found, outcomes = await ports.enricher.episode(live, number)
    if not found:
        _no_episode_data(event, ctx, outcomes)
        return []
    entry = refresh_episode(live, number, found)
    if entry is None:
        log.info("episode unchanged: no review", anime_id=live.id, episode=number)
        return []
    await start_review(
        ports,
        ctx,
        entry,
        name=execution_name(f"ep{number}", live.id, ctx.envelope.event_id),
        kind=ReviewKind.EPISODE_UPDATE,
        reason=f"episode {number} refreshed",
        base_version=live.version,
        details={"episode_number": number, "providers": {o.provider: o.status for o in outcomes}},
    )
    return []


def _no_episode_data(event: EpisodeUpdate, ctx: MessageContext, outcomes: list[ProviderOutcome]) -> None:
    failed = [f"{o.provider}: {o.detail}" for o in outcomes if o.status == "failed"]
    if not failed:
        log.info(
            "no provider has data for the episode", anime_id=event.anime_id, episode=event.episode_number
        )
        return
    summary = "; ".join(failed)
    if ctx.receive_count < EPISODE_ATTEMPTS:
        raise Retryable(
            f"episode {event.episode_number}: no provider answered ({summary})", retry_after_s=600
        )
    raise Permanent(
        f"episode {event.episode_number} of {event.anime_id}: no provider answered after "
        f"{ctx.receive_count} attempts ({summary}); replay the message from the DLQ once they are back"
    )
