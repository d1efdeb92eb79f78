"""Settings of the local stack (``avs local ...`` and ``avs run``)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from avs_shared.errors import ConfigurationError
from avs_shared.settings import ServiceSettings, load_settings

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
LOCAL_REGION = "us-east-1"


class LocalSettings(ServiceSettings):
    """Where the embedded servers listen and where the repository's ``infra/`` is.

    ``AVS_MOTO_PORT`` / ``AVS_REDIS_PORT`` move the servers off 4566 / 6379 (the
    Redis port also rewrites ``AVS_REDIS_URL`` to ``redis://127.0.0.1:<port>/0``).
    """

    service_name: str = "avs-run"
    moto_host: str = "127.0.0.1"
    moto_port: int = Field(default=4566, ge=1, le=65535)
    redis_port: int | None = Field(default=None, ge=1, le=65535)
    infra_dir: Path | None = None

    @property
    def moto_url(self) -> str:
        return f"http://{self.moto_host}:{self.moto_port}"


def apply_local_environment(
    *, data_dir: Path | None = None, moto_port: int | None = None, redis_port: int | None = None
) -> list[str]:
    """Export CLI options and the local defaults to ``os.environ``; returns the names set.

    Options are exported (``AVS_DATA_DIR``, ``AVS_MOTO_PORT``, ``AVS_REDIS_URL``) so the
    settings every service builds from the environment agree with the CLI. Defaults
    (the moto endpoint, dummy credentials, a region) are set only when absent: an
    exported ``AWS_ENDPOINT_URL`` (LocalStack) or real credentials are left alone.
    """
    changed: list[str] = []

    def put(name: str, value: str, *, only_if_unset: bool) -> None:
        if only_if_unset and os.environ.get(name):
            return
        os.environ[name] = value
        changed.append(name)

    if data_dir is not None:
        put("AVS_DATA_DIR", str(data_dir), only_if_unset=False)
    if moto_port is not None:
        put("AVS_MOTO_PORT", str(moto_port), only_if_unset=False)
    if redis_port is not None:
        put("AVS_REDIS_PORT", str(redis_port), only_if_unset=False)
    bootstrap = load_local_settings()
    if bootstrap.redis_port is not None:
        put("AVS_REDIS_URL", f"redis://127.0.0.1:{bootstrap.redis_port}/0", only_if_unset=False)
    put("AWS_ENDPOINT_URL", bootstrap.moto_url, only_if_unset=True)
    if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
        for name, value in LOCAL_CREDENTIALS.items():
            put(name, value, only_if_unset=False)
    if not os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        put("AWS_DEFAULT_REGION", LOCAL_REGION, only_if_unset=False)
    return changed


def load_local_settings() -> LocalSettings:
    """Read the settings from the environment (after :func:`apply_local_environment`)."""
    return load_settings(LocalSettings)


def find_infra_dir(settings: LocalSettings) -> Path:
    """``AVS_INFRA_DIR``, else the repository's ``infra/`` beside this package, else ``./infra``."""
    candidates = [settings.infra_dir] if settings.infra_dir else []
    candidates += [Path(__file__).resolve().parents[2] / "infra", Path.cwd() / "infra"]
    for candidate in candidates:
        if candidate is not None and (candidate / "statemachines").is_dir():
            return candidate
    tried = ", ".join(str(c) for c in candidates if c is not None)
    raise ConfigurationError(
        f"cannot find the infra/ directory with the state machine definitions (tried {tried}); "
        "set AVS_INFRA_DIR to the repository's infra/ directory"
    )
