"""``python -m avs_indexer <job>``: a cloud scheduled task runs one cron job and exits."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from avs_indexer.ports import IndexerPorts
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.schema import AnimeEntry
from avs_shared.settings import ServiceSettings
from avs_shared.topology import SNAPSHOT_KEY


async def _run(settings: ServiceSettings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "AVS_REDIS_URL": settings.redis_url,
        "AVS_DATA_DIR": str(settings.data_dir),
        "AVS_LOG_FORMAT": "console",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "avs_indexer",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_weekly_snapshot_runs_once_and_exits(
    provisioned: Provisioner,
    aws: AwsClients,
    settings: ServiceSettings,
    ports: IndexerPorts,
    sample_entries: list[AnimeEntry],
) -> None:
    await ports.entries.batch_put(sample_entries[:5])

    code, out, err = await _run(settings, "weekly-snapshot")

    assert code == 0, err[-2000:]
    assert out.startswith("weekly-snapshot: ")
    snapshot = json.loads((await S3ObjectStore(aws).get(SNAPSHOT_KEY)).body)
    assert sorted(e["id"] for e in snapshot["data"]) == sorted(e.id for e in sample_entries[:5])


async def test_an_unknown_job_is_refused_with_the_known_ones(settings: ServiceSettings) -> None:
    code, _, err = await _run(settings, "weekly-sync")
    assert code == 2
    assert "invalid choice: 'weekly-sync'" in err and "weekly-snapshot" in err
