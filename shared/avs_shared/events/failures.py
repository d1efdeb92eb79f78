"""The structured message of ``image-ingestion-failures``: one image of one anime that failed for good.

The image ingestor sends one per failed (anime, URL) when its download retries are
exhausted or the content is refused; operators read them with ``avs dlq show`` and
replay them with ``avs dlq replay image-ingestion-failures``, which re-publishes them
as ``image-requested`` events marked :data:`RETRY_FAILED` so the ingestor tries
them again at once instead of waiting for the retry time of their failure record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from avs_shared.events.types import RequestedImage

RETRY_FAILED = "retry_failed"
"""Key in :attr:`RequestedImage.context`: true asks the ingestor to retry a failed URL now."""


class ImageIngestionFailure(BaseModel):
    """One failed image.

    Attributes
    ----------
    anime_id, image_url:
        Which anime asked for which URL.
    error_message:
        Why it failed (the last attempt's error).
    timestamp:
        When it failed for good (UTC).
    retry_count:
        How many times the download was retried in that round (attempts - 1).
    context:
        ``kind`` and ``request_context`` (what the request carried), ``event_id`` and
        ``correlation_id`` of the request, ``attempts``, ``failed_rounds`` and
        ``permanent`` (no retry could help: refused content or address, HTTP 404, ...).
    """

    model_config = ConfigDict(extra="allow")

    anime_id: str = Field(min_length=1)
    image_url: str = Field(min_length=1, max_length=4096)
    error_message: str
    timestamp: datetime
    retry_count: int = Field(ge=0)
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp must carry a time zone (UTC)")
        return value.astimezone(UTC)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> ImageIngestionFailure:
        return cls.model_validate_json(raw)

    def retry_request(self) -> RequestedImage:
        """The image to request again, marked to be retried at once."""
        kind = self.context.get("kind")
        request_context = self.context.get("request_context")
        context = dict(request_context) if isinstance(request_context, dict) else {}
        context[RETRY_FAILED] = True
        return RequestedImage(
            url=self.image_url, kind=kind if isinstance(kind, str) else "unknown", context=context
        )
