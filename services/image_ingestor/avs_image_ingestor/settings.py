"""Settings of the image ingestor (``AVS_IMAGE_*``)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from avs_shared.settings import ServiceSettings


class ImageIngestorSettings(ServiceSettings):
    """Downloads (retries, deadline, size, redirects, concurrency), failure retries and the
    address allowlist. Defaults suit public image CDNs."""

    service_name: str = "avs-image-ingestor"
    # One download: tenacity attempts with exponential backoff and full jitter, all
    # inside a total deadline; each attempt has its own connect/read timeout.
    image_download_attempts: int = Field(default=4, ge=1, le=10)
    image_backoff_base_seconds: float = Field(default=1.0, ge=0, le=60)
    image_backoff_max_seconds: float = Field(default=10.0, ge=0, le=300)
    image_download_deadline_seconds: float = Field(default=45.0, gt=0, le=600)
    image_attempt_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    image_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    image_max_redirects: int = Field(default=5, ge=0, le=20)
    # At most this many downloads from one host at once, and in the whole process.
    image_per_host_concurrency: int = Field(default=4, ge=1, le=256)
    image_global_concurrency: int = Field(default=32, ge=1, le=1024)
    # URLs of one image-requested event resolved at once.
    image_event_concurrency: int = Field(default=16, ge=1, le=256)
    # A URL that failed for good is tried again after retry_after * 2^(failed rounds - 1),
    # capped at retry_max; its DOWNLOAD_FAILED record expires after failure_ttl.
    image_failure_retry_after_seconds: int = Field(default=6 * 3600, ge=0)
    image_failure_retry_max_seconds: int = Field(default=7 * 86_400, ge=0)
    image_failure_ttl_seconds: int = Field(default=30 * 86_400, ge=60)
    # Networks (CIDR) downloads may reach although they are not public (loopback,
    # private, link-local): for tests and local fakes only. Cloud metadata addresses
    # stay refused whatever this says.
    image_allowed_networks: list[str] = Field(default_factory=list)
    image_user_agent: str = "anime-vector-service/0.1 (image ingestor)"

    @field_validator("image_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError as exc:
                raise ValueError(f"{text!r} is not a network in CIDR form (e.g. 127.0.0.0/8)") from exc
        return value
