"""Session fixtures: the real parts every integration test runs against.

The moto server and redis-server run as child processes on free loopback ports for
the whole session; tests that need a clean AWS state use ``provisioned``, which
resets moto and provisions the topology catalogue.

With ``AVS_TEST_EXTERNAL_AWS=1`` the same fixtures use emulators started elsewhere
(``make e2e-localstack``: LocalStack and Redis from docker-compose.local.yml) at
``AWS_ENDPOINT_URL`` and, when set, ``AVS_REDIS_URL``; nothing is started here.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.embedded.processes import MotoServer, RedisServer, free_port
from avs_shared.events import Envelope
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


def _external() -> bool:
    return os.environ.get("AVS_TEST_EXTERNAL_AWS", "").lower() in {"1", "true", "yes"}


def external_aws_url() -> str | None:
    """The emulator to use instead of a moto server of our own, or None (start moto)."""
    if not _external():
        return None
    url = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    if not url:
        raise pytest.UsageError("AVS_TEST_EXTERNAL_AWS=1 needs AWS_ENDPOINT_URL (e.g. http://127.0.0.1:4566)")
    return url.rstrip("/")


def external_redis_url() -> str | None:
    """The Redis to use instead of a redis-server of our own, or None (start one)."""
    if not _external():
        return None
    return (os.environ.get("AVS_REDIS_URL") or os.environ.get("REDIS_URL") or "").strip() or None


class ExternalEndpoint:
    """A server started outside the tests: ``url``, ``host``, ``port``, nothing to start or stop."""

    def __init__(self, url: str) -> None:
        self.url = url
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme in {"https", "rediss"} else 80)


class ExternalAws(ExternalEndpoint):
    """LocalStack (or another moto) in place of :class:`MotoServer`; ``reset`` drops every resource."""

    def _post(self, path: str, body: bytes = b"") -> None:
        req = urllib.request.Request(self.url + path, data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()

    def is_localstack(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/_localstack/health", timeout=10) as resp:
                return "services" in json.loads(resp.read() or b"{}")
        except (urllib.error.URLError, ValueError):
            return False

    def configure(self) -> None:
        if not self.is_localstack():  # moto: Step Functions execution on
            self._post(
                "/moto-api/config", json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
            )

    def reset(self) -> None:
        if self.is_localstack():
            self._post("/_localstack/state/reset")
        else:
            self._post("/moto-api/reset")
            self.configure()


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("avs-session")


@pytest.fixture(scope="session")
def model_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_dir whose ONNX int8 export is made once for the session (tests that must export
    again work on a copy of it)."""
    from avs_shared.adapters.embedding import MiniLMEmbedder

    data_dir = tmp_path_factory.mktemp("embedding-data")
    embedder = MiniLMEmbedder(data_dir)
    try:
        assert embedder.warm_up() == "onnx-int8", "the ONNX export failed; see the fallback warning"
    finally:
        embedder.close()
    return data_dir


@pytest.fixture(scope="session")
def moto_server(session_dir: Path) -> Iterator[MotoServer]:
    external = external_aws_url()
    if external:
        aws_endpoint = ExternalAws(external)
        aws_endpoint.configure()
        yield aws_endpoint  # type: ignore[misc]  # MotoServer's interface
        return
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
    external = external_redis_url()
    if external:
        yield ExternalEndpoint(external)  # type: ignore[misc]  # RedisServer's url, host, port
        return
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


# ----------------------------------------------------------------------------- queues

Drain = Callable[[str], Awaitable[list[Envelope]]]


def envelope_of(body: str) -> Envelope:
    """The envelope an SQS message body carries (an SNS notification or a direct send)."""
    doc = json.loads(body)
    if isinstance(doc, dict) and doc.get("Type") == "Notification":  # SNS -> SQS, raw delivery off
        return Envelope.from_json(doc["Message"])
    return Envelope.from_json(body)


@pytest.fixture
def drain(aws: AwsClients) -> Drain:
    """Receive and delete every visible message of a queue; the envelopes they carry."""

    async def run(queue: str) -> list[Envelope]:
        sqs = await aws.client("sqs")
        url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]
        found: list[Envelope] = []
        while True:
            resp = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            batch = resp.get("Messages", [])
            if not batch:
                return found
            found.extend(envelope_of(m["Body"]) for m in batch)
            await sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)],
            )

    return run
