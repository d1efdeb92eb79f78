"""Typed payloads of the events that travel in an :class:`Envelope`.

``EVENT_TYPES`` maps ``event_type`` to its payload model; the worker runtime uses
it to validate a payload before a handler sees it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from avs_shared.events.envelope import Envelope, TraceContext


class EventPayload(BaseModel):
    """Base of every payload. Subclasses set ``EVENT_TYPE`` (and ``SCHEMA_VERSION``)."""

    model_config = ConfigDict(extra="allow")

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    def envelope(
        self,
        *,
        event_id: str | None = None,
        correlation_id: str | None = None,
        trace: TraceContext | None = None,
    ) -> Envelope:
        """Wrap this payload; pass a deterministic ``event_id`` when the producer may retry."""
        return Envelope.new(
            self.EVENT_TYPE,
            self.model_dump(mode="json", by_alias=True, exclude_none=True),
            schema_version=self.SCHEMA_VERSION,
            event_id=event_id,
            correlation_id=correlation_id,
            trace=trace,
        )


class AnimeNew(EventPayload):
    """A new anime found by the sync (or an upcoming premiere): enrich it fully."""

    EVENT_TYPE: ClassVar[str] = "anime-new"

    anime_id: str = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    offline_record: dict[str, Any]
    reason: str = "new"


class RequestedImage(BaseModel):
    """One image URL of an anime, with where it sits in the entry."""

    model_config = ConfigDict(extra="allow")

    url: str = Field(min_length=1, max_length=4096)
    kind: str = Field(description="cover, poster, banner or character")
    context: dict[str, Any] = Field(default_factory=dict)


class ImageRequested(EventPayload):
    """The image URLs of one anime to re-host into ``images/``.

    One event per anime (not per URL): a bootstrap of 40,000 anime publishes
    40,000 events instead of ~200,000, and the ingestor resolves the URLs of one
    anime together, updating its entry once.
    """

    EVENT_TYPE: ClassVar[str] = "image-requested"

    anime_id: str = Field(min_length=1)
    images: list[RequestedImage] = Field(min_length=1, max_length=5000)

    @property
    def urls(self) -> list[str]:
        return [image.url for image in self.images]


class EntryApproved(EventPayload):
    """A reviewed entry to commit. The entry travels by reference (``entry_ref``, an S3 key)."""

    EVENT_TYPE: ClassVar[str] = "entry-approved"

    anime_id: str = Field(min_length=1)
    entry_ref: str = Field(min_length=1)
    review_task_id: str | None = None
    base_version: int | None = Field(
        default=None,
        ge=0,
        description="the stored version the reviewer saw (0: the anime was new); None: no check",
    )


class EpisodeUpdate(EventPayload):
    """Refresh one episode of an ongoing anime (sent by a one-time schedule)."""

    EVENT_TYPE: ClassVar[str] = "episode-update"

    anime_id: str = Field(min_length=1)
    episode_number: int = Field(ge=0)


class ReviewKind(StrEnum):
    NEW = "new"
    STATUS_CHANGED = "status_changed"
    MISSING_EPISODES = "missing_episodes"
    MERGE = "merge"
    SPLIT = "split"
    EPISODE_UPDATE = "episode_update"


class ReviewRequest(EventPayload):
    """Ask a person to look at an anime: a new entry, a changed one, or a data conflict."""

    EVENT_TYPE: ClassVar[str] = "review-request"

    anime_id: str = Field(min_length=1)
    kind: ReviewKind
    reason: str = ""
    entry_ref: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


EVENT_TYPES: dict[str, type[EventPayload]] = {
    cls.EVENT_TYPE: cls for cls in (AnimeNew, ImageRequested, EntryApproved, EpisodeUpdate, ReviewRequest)
}
