"""Session fixtures: the real parts every integration test runs against.

The moto server and redis-server run as child processes on free loopback ports for
the whole session; tests that need a clean AWS state use ``provisioned``, which
resets moto and provisions the topology catalogue.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.embedded.processes import MotoServer, RedisServer, free_port
from avs_shared.settings import ServiceSettings
from avs_shared.topology import TOPOLOGY

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"

# Credentials for the emulator; set before any client exists. Never real ones.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
# Every in-process test client is one "client" to the per-client limiter; the limiter's
# own tests switch it on explicitly.
os.environ.setdefault("AVS_RATE_LIMIT_ENABLED", "false")


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("avs-session")


@pytest.fixture(scope="session")
def moto_server(session_dir: Path) -> Iterator[MotoServer]:
    server = MotoServer(session_dir, port=free_port())
    server.start()
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = server.url
    yield server
    server.stop()
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        os.environ["AWS_ENDPOINT_URL"] = previous


@pytest.fixture(scope="session")
def redis_server(session_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(session_dir, port=free_port(), persist=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def settings(moto_server: MotoServer, redis_server: RedisServer, session_dir: Path) -> ServiceSettings:
    return ServiceSettings(
        service_name="avs-tests",
        data_dir=session_dir / "data",
        redis_url=redis_server.url,
        worker_poll_wait_seconds=1,
        log_format="console",
    )


@pytest.fixture(scope="session")
async def aws(settings: ServiceSettings) -> AsyncIterator[AwsClients]:
    async with AwsClients(settings) as clients:
        yield clients


@pytest.fixture
async def provisioned(moto_server: MotoServer, aws: AwsClients) -> Provisioner:
    """A clean moto with the whole topology provisioned."""
    moto_server.reset()
    provisioner = Provisioner(aws, TOPOLOGY, infra_dir=INFRA)
    await provisioner.provision()
    return provisioner
