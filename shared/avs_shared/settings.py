"""Settings shared by every service (pydantic-settings, built once in ``main()``).

AWS endpoints are not settings of ours: botocore reads the standard
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` variables itself, so the
moto server, LocalStack and AWS differ by environment only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from avs_shared.errors import ConfigurationError


class ServiceSettings(BaseSettings):
    """Common settings; each service subclasses this with its own fields.

    Environment variables carry the ``AVS_`` prefix unless an alias says otherwise.
    """

    model_config = SettingsConfigDict(env_prefix="AVS_", extra="ignore", frozen=True)

    service_name: str = "avs"
    data_dir: Path = Path(".data")
    aws_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", validation_alias=AliasChoices("AVS_REDIS_URL", "REDIS_URL")
    )
    claim_check_threshold_bytes: int = Field(default=200_000, ge=1024, le=250_000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    worker_poll_wait_seconds: int = Field(default=20, ge=0, le=20)
    worker_concurrency: int = Field(default=8, ge=1, le=256)
    worker_drain_timeout_seconds: float = Field(default=60.0, gt=0)
    idempotency_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # The vector index: a Qdrant server when QDRANT_URL is set, else a Qdrant Edge
    # shard under the data directory (the embedded default).
    qdrant_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AVS_QDRANT_URL", "QDRANT_URL")
    )
    qdrant_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("AVS_QDRANT_API_KEY", "QDRANT_API_KEY")
    )
    # Qdrant Edge only: run the shard in a worker process of its own (false: in this
    # process). The engine holds the GIL for the whole of each call; in a worker it runs
    # beside the process's Python (bench/api.py, concurrency 16: hybrid search 1.56x and
    # structured search 1.89x the requests/s; a bulk load is as fast either way).
    edge_index_process: bool = True
    # Qdrant Edge only: threads of the shard's search pool (EdgeVectorIndex's search_threads).
    edge_search_threads: int = Field(default=1, ge=1, le=256)
    embedding_backend: Literal["onnx-int8", "onnx", "torch"] = "onnx-int8"
    embedding_batch_size: int = Field(default=64, ge=1, le=1024)
    # Public images are served as https://<cdn_domain>/images/<sha256>.<ext>.
    cdn_domain: str = Field(default="cdn.anime-vector-service.local", pattern=r"^[A-Za-z0-9.-]+(:[0-9]+)?$")


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build a settings object, failing fast with a message that names each bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {prefix}{field.upper()}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigurationError(
            f"invalid {cls.__name__}; fix these environment variables:\n" + "\n".join(lines)
        ) from exc
