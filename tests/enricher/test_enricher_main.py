"""``python -m avs_enricher``: the container entry point consumes ``anime-new`` published on SNS,
starts the review, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from avs_enricher.testing.catalogue import LANTERN
from avs_enricher.testing.fake_providers import FakeProviders
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.events import AnimeNew
from avs_shared.runtime import build_runtime
from avs_shared.settings import ServiceSettings

ANIME_ID = "9e6f1c8a-3d2b-5e4f-8a7b-6c5d4e3f2a10"


async def test_the_service_runs_alone_and_stops_on_sigterm(
    provisioned: Provisioner, aws: AwsClients, settings: ServiceSettings, fakes: FakeProviders
) -> None:
    env = {
        **os.environ,
        **fakes.environment(),
        "AVS_REDIS_URL": settings.redis_url,
        "AVS_DATA_DIR": str(settings.data_dir),
        "AVS_WORKER_POLL_WAIT_SECONDS": "1",
        "AVS_LOG_FORMAT": "console",
        "AVS_ENRICHER_CACHE_KEY_PREFIX": f"main-{time.time_ns()}:",
        "AVS_ENRICHER_RATE_LIMIT_KEY_PREFIX": f"main-rl-{time.time_ns()}:",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "avs_enricher", env=env, stderr=asyncio.subprocess.PIPE
    )
    sfn = await aws.client("stepfunctions")
    try:
        publisher, _, _ = await build_runtime(aws, settings)
        event = AnimeNew(
            anime_id=ANIME_ID, sources=LANTERN.sources(), offline_record=LANTERN.offline_record()
        )
        await publisher.publish(event.envelope(correlation_id="corr-alone"))
        machine = (await sfn.list_state_machines())["stateMachines"][0]["stateMachineArn"]
        deadline = time.monotonic() + 60
        while not (await sfn.list_executions(stateMachineArn=machine))["executions"]:
            assert process.returncode is None, "the service exited early"
            assert time.monotonic() < deadline, "no review was started in time"
            await asyncio.sleep(0.2)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert "review started" in stderr.decode()
    asked = {r.provider for r in fakes.requests()}
    assert asked == {"jikan", "kitsu", "animeschedule"}, "no AniList or AniDB page in its sources"
