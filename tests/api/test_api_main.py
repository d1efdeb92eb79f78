"""``python -m avs_api <job>``: a cloud scheduled task runs one cron job and exits."""

from __future__ import annotations

import asyncio
import os
import sys

from avs_shared.adapters.provision import Provisioner
from avs_shared.settings import ServiceSettings


async def _run(settings: ServiceSettings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "AVS_REDIS_URL": settings.redis_url,
        "AVS_DATA_DIR": str(settings.data_dir / "api-main"),
        "AVS_LOG_FORMAT": "console",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "avs_api",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_curated_lists_job_runs_once_and_exits(
    provisioned: Provisioner, settings: ServiceSettings
) -> None:
    code, out, err = await _run(settings, "curated-lists-refresh")
    assert code == 0, err[-3000:]
    assert out.startswith("curated-lists-refresh: ")


async def test_an_unknown_job_is_refused(settings: ServiceSettings) -> None:
    code, _, err = await _run(settings, "weekly-snapshot")
    assert code == 2
    assert "invalid choice: 'weekly-snapshot'" in err and "curated-lists-refresh" in err
