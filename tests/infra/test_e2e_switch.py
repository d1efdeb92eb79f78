"""LocalStack instead of moto is configuration only: with ``AVS_TEST_EXTERNAL_AWS=1`` the
session fixtures of tests/conftest.py use the emulator at ``AWS_ENDPOINT_URL`` (and the
Redis at ``AVS_REDIS_URL``) and start nothing; ``make e2e-localstack`` sets exactly that."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from avs_shared.adapters.aws import AwsClients
from avs_shared.embedded.processes import MotoServer, free_port
from avs_shared.settings import ServiceSettings
from avs_shared.topology import BUCKET

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def conftest() -> ModuleType:
    """tests/conftest.py as a module of its own (its selection functions, its classes)."""
    spec = importlib.util.spec_from_file_location("avs_root_conftest", REPO / "tests" / "conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("AVS_TEST_EXTERNAL_AWS", "AWS_ENDPOINT_URL", "AVS_REDIS_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_the_switch_the_tests_start_their_own_moto_and_redis(
    conftest: ModuleType, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")  # `avs run` leaves this around
    clean_env.setenv("AVS_REDIS_URL", "redis://127.0.0.1:6380/0")
    assert conftest.external_aws_url() is None
    assert conftest.external_redis_url() is None


def test_the_switch_selects_the_endpoints_from_the_environment(
    conftest: ModuleType, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AVS_TEST_EXTERNAL_AWS", "1")
    clean_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/")
    assert conftest.external_aws_url() == "http://127.0.0.1:4566"
    assert conftest.external_redis_url() is None, "no AVS_REDIS_URL: a redis-server of our own"
    clean_env.setenv("AVS_REDIS_URL", "redis://127.0.0.1:6380/0")
    assert conftest.external_redis_url() == "redis://127.0.0.1:6380/0"
    redis = conftest.ExternalEndpoint("redis://127.0.0.1:6380/0")
    assert (redis.host, redis.port, redis.url) == ("127.0.0.1", 6380, "redis://127.0.0.1:6380/0")


def test_the_switch_without_an_endpoint_is_a_usage_error(
    conftest: ModuleType, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AVS_TEST_EXTERNAL_AWS", "1")
    with pytest.raises(pytest.UsageError, match="needs AWS_ENDPOINT_URL"):
        conftest.external_aws_url()


def test_make_e2e_localstack_sets_the_switch_and_the_compose_endpoints() -> None:
    makefile = (REPO / "Makefile").read_text()
    env = re.search(r"^E2E_ENV := (.*)$", makefile, re.M)
    assert env, "the target's environment"
    pairs = dict(item.split("=", 1) for item in env[1].split())
    assert pairs == {
        "AVS_TEST_EXTERNAL_AWS": "1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AVS_REDIS_URL": "redis://127.0.0.1:6380/0",
    }
    compose = (REPO / "docker-compose.local.yml").read_text()
    assert '"127.0.0.1:4566:4566"' in compose and '"127.0.0.1:6380:6379"' in compose, (
        "the ports the target uses"
    )


def test_make_e2e_localstack_without_docker_says_so_and_fails(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    (bin_dir / "docker").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["make", "-s", "e2e-docker"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "needs a running Docker daemon" in done.stderr


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[MotoServer]:
    """A moto server of this test standing in for LocalStack (an emulator started elsewhere)."""
    server = MotoServer(tmp_path / "stand-in", port=free_port())
    server.start()
    yield server
    server.stop()


async def test_the_session_fixtures_use_the_external_endpoint_and_start_no_moto(
    stand_in: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = f"e2e-switch/{uuid.uuid4().hex}.txt"
    inner = tmp_path / "test_inner.py"
    inner.write_text(
        textwrap.dedent(
            f"""
            import os

            async def test_inner(moto_server, redis_server, provisioned, aws):
                assert type(moto_server).__name__ == "ExternalAws", type(moto_server)
                assert moto_server.url == {stand_in.url!r}
                assert os.environ["AWS_ENDPOINT_URL"] == {stand_in.url!r}
                assert type(redis_server).__name__ == "ExternalEndpoint"
                assert redis_server.port == 6390
                s3 = await aws.client("s3")
                await s3.put_object(Bucket={BUCKET!r}, Key={marker!r}, Body=b"from the inner session")
            """
        )
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AVS_", "PYTEST_"))},
        "AVS_TEST_EXTERNAL_AWS": "1",
        "AWS_ENDPOINT_URL": stand_in.url,
        "AVS_REDIS_URL": "redis://127.0.0.1:6390/0",  # never contacted by these fixtures
        "PYTHONPATH": str(REPO / "tests"),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-c", str(REPO / "pyproject.toml"),
         "--rootdir", str(tmp_path), str(inner)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
    # The inner session provisioned and wrote through the stand-in: the same server, no moto of its own.
    monkeypatch.setenv("AWS_ENDPOINT_URL", stand_in.url)
    async with AwsClients(ServiceSettings(data_dir=tmp_path / "outer")) as aws:
        s3 = await aws.client("s3")
        body = await (await s3.get_object(Bucket=BUCKET, Key=marker))["Body"].read()
    assert body == b"from the inner session"
