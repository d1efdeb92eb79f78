"""The message of a bulk load: one chunk of entries, staged in S3."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from avs_shared.events.types import EventPayload


class BulkChunk(EventPayload):
    """Index the entries staged at ``chunk_key`` as chunk ``chunk_index`` of job ``job_id``."""

    EVENT_TYPE: ClassVar[str] = "bulk-chunk"

    job_id: str = Field(min_length=1, max_length=64)
    chunk_index: int = Field(ge=0)
    chunk_key: str = Field(min_length=1)
    entries: int = Field(ge=0)
    publish_images: bool = True
    write_entries: bool = True
