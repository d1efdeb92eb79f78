"""``python -m avs_image_ingestor``: the container entry point consumes ``image-requested``
published on SNS and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from image_testkit import ImageServer, png

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_image_map import DynamoImageMap
from avs_shared.adapters.provision import Provisioner
from avs_shared.events import ImageRequested, RequestedImage
from avs_shared.runtime import build_runtime
from avs_shared.settings import ServiceSettings


async def test_the_service_runs_alone_and_stops_on_sigterm(
    provisioned: Provisioner, aws: AwsClients, settings: ServiceSettings, image_server: ImageServer
) -> None:
    url = image_server.image("/alone.png", png(42))
    env = {
        **os.environ,
        "AVS_REDIS_URL": settings.redis_url,
        "AVS_DATA_DIR": str(settings.data_dir),
        "AVS_IMAGE_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "AVS_WORKER_POLL_WAIT_SECONDS": "1",
        "AVS_LOG_FORMAT": "console",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "avs_image_ingestor", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        publisher, _, _ = await build_runtime(aws, settings)
        event = ImageRequested(anime_id="alone", images=[RequestedImage(url=url, kind="cover")])
        await publisher.publish(event.envelope(correlation_id="corr-alone"))
        image_map = DynamoImageMap(aws, cdn_domain=settings.cdn_domain)
        deadline = time.monotonic() + 60
        while (record := await image_map.lookup(url)) is None:
            assert process.returncode is None, "the service exited early"
            assert time.monotonic() < deadline, "the image was not ingested in time"
            await asyncio.sleep(0.2)
        assert record.status == "STORED" and image_server.hits["/alone.png"] == 1
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert "images.resolved" in stderr.decode()
