"""Settings of the API service."""

from __future__ import annotations

from pydantic import Field

from avs_shared.settings import ServiceSettings


class ApiSettings(ServiceSettings):
    """``AVS_API_HOST`` / ``AVS_API_PORT`` say where the API listens (loopback by default)."""

    service_name: str = "avs-api"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    ready_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    # CORS is closed unless origins are listed (JSON list, e.g. '["https://app.example"]').
    cors_origins: list[str] = Field(default_factory=list)
