"""Event envelope, typed event payloads and the claim check."""

from avs_shared.events.envelope import Envelope, TraceContext, derive_event_id
from avs_shared.events.types import (
    EVENT_TYPES,
    AnimeNew,
    EntryApproved,
    EpisodeUpdate,
    EventPayload,
    ImageRequested,
    RequestedImage,
    ReviewKind,
    ReviewRequest,
)

__all__ = [
    "EVENT_TYPES",
    "AnimeNew",
    "EntryApproved",
    "Envelope",
    "EpisodeUpdate",
    "EventPayload",
    "ImageRequested",
    "RequestedImage",
    "ReviewKind",
    "ReviewRequest",
    "TraceContext",
    "derive_event_id",
]
