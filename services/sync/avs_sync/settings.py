"""Settings of the sync service (``AVS_SYNC_*``)."""

from __future__ import annotations

from pydantic import Field

from avs_shared.settings import ServiceSettings

OFFLINE_REPOSITORY = "manami-project/anime-offline-database"
DEFAULT_SOURCE_URL = (
    f"https://github.com/{OFFLINE_REPOSITORY}/releases/download/latest/anime-offline-database.jsonl.zst"
)
DEFAULT_VERSION_URL = f"https://api.github.com/repos/{OFFLINE_REPOSITORY}/commits/latest"


class SyncSettings(ServiceSettings):
    """Where the offline database comes from and how the sync reads our table.

    ``sync_version_url`` answers the commit of the ``latest`` tag (GitHub's commits API);
    it is asked only for the default source. Empty turns it off: the asset's ETag, else
    its SHA-256, identifies the version instead.
    """

    service_name: str = "avs-sync"
    sync_source_url: str = Field(default=DEFAULT_SOURCE_URL, min_length=1)
    sync_version_url: str = DEFAULT_VERSION_URL
    sync_download_attempts: int = Field(default=5, ge=1, le=20)
    sync_download_timeout_seconds: float = Field(default=300.0, gt=0)
    sync_scan_segments: int = Field(default=4, ge=1, le=64)
