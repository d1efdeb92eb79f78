"""The source version last processed: metadata ``source-commit-sha`` of the snapshot object.

``processed/enriched_anime_database.json`` carries it (ARCHITECTURE.md): ``avs bootstrap
--source-commit-sha`` sets it, snapshots carry it over, and a finished sync rewrites it
in place (a server-side copy onto itself with replaced metadata; the body is not moved
through this process).
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.topology import BUCKET, SNAPSHOT_KEY, SOURCE_COMMIT_METADATA

log = structlog.get_logger(__name__)

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
SYNCED_AT_METADATA = "source-synced-at"


class SourceVersions:
    """Reads and records the processed source version on the snapshot object."""

    def __init__(self, aws: AwsClients, *, bucket: str = BUCKET, key: str = SNAPSHOT_KEY) -> None:
        self._aws = aws
        self._bucket = bucket
        self._key = key

    async def recorded(self) -> str | None:
        """The version token last processed, or None (no snapshot, or none recorded)."""
        head = await self._head()
        if head is None:
            return None
        value = (head.get("Metadata") or {}).get(SOURCE_COMMIT_METADATA)
        return str(value) if value else None

    async def record(self, token: str) -> bool:
        """Store ``token`` as the processed version; False when there is no snapshot object
        to carry it (bootstrap the catalogue first), which is logged."""
        head = await self._head()
        if head is None:
            log.warning(
                "sync.version_not_recorded",
                key=self._key,
                reason="no snapshot object; run `avs bootstrap` or `avs snapshot` to create it",
            )
            return False
        metadata = {str(k): str(v) for k, v in (head.get("Metadata") or {}).items()}
        metadata[SOURCE_COMMIT_METADATA] = token
        metadata[SYNCED_AT_METADATA] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        s3 = await self._aws.client("s3")
        kwargs: dict[str, object] = {
            "Bucket": self._bucket,
            "Key": self._key,
            "CopySource": {"Bucket": self._bucket, "Key": self._key},
            "Metadata": metadata,
            "MetadataDirective": "REPLACE",
        }
        if head.get("ContentType"):
            kwargs["ContentType"] = head["ContentType"]
        await s3.copy_object(**kwargs)
        return True

    async def _head(self) -> dict[str, object] | None:
        s3 = await self._aws.client("s3")
        try:
            resp: dict[str, object] = await s3.head_object(Bucket=self._bucket, Key=self._key)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        return resp
