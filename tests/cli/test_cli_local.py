"""``avs local up | status | down`` against a moto server and redis-server on free ports.

The tests of this module share one stack and run in order: up, up again, status,
a deleted queue, the refusals, then down.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner, Result

from avs_cli.main import cli
from avs_shared.embedded.processes import MotoServer, RedisServer, free_port, port_open
from avs_shared.topology import Q_REVIEW_REQUESTS, TOPOLOGY

# Everything the CLI may export; CliRunner restores these after each invocation.
BASE_ENV: dict[str, str | None] = {
    "AWS_ENDPOINT_URL": None,
    "AVS_REDIS_URL": None,
    "REDIS_URL": None,
    "AVS_DATA_DIR": None,
    "AVS_MOTO_PORT": None,
    "AVS_REDIS_PORT": None,
    "AVS_INFRA_DIR": None,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Stack:
    data_dir: Path
    moto_port: int
    redis_port: int

    @property
    def options(self) -> list[str]:
        return [
            "--data-dir",
            str(self.data_dir),
            "--moto-port",
            str(self.moto_port),
            "--redis-port",
            str(self.redis_port),
        ]

    def invoke(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        return CliRunner().invoke(cli, [*args, *self.options], env={**BASE_ENV, **(env or {})})

    def sqs(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "sqs",
            endpoint_url=f"http://127.0.0.1:{self.moto_port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("local-stack"), free_port(), free_port())
    yield s
    # Whatever a failed test left behind.
    MotoServer(s.data_dir, port=s.moto_port).stop()
    RedisServer(s.data_dir, port=s.redis_port).stop()


def catalogue_names() -> list[str]:
    t = TOPOLOGY
    return [
        t.bucket.name,
        *(x.name for x in t.tables),
        *(x.name for x in t.topics),
        *(x.name for x in t.queues),
        *(x.name for x in t.state_machines),
        *(x.name for x in t.schedules),
        *(x.name for x in t.schedule_groups),
    ]


def row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.split()[1:2] == [name])


def test_up_starts_moto_and_redis_and_provisions_the_catalogue(stack: Stack) -> None:
    result = stack.invoke("local", "up")

    assert result.exit_code == 0, result.output
    assert "moto   started" in result.stdout and "redis  started" in result.stdout
    assert port_open("127.0.0.1", stack.moto_port) and port_open("127.0.0.1", stack.redis_port)
    assert " 0 updated, 0 unchanged" in result.stdout
    assert (stack.data_dir / "run" / "moto.pid").exists() and (stack.data_dir / "run" / "redis.pid").exists()


def test_up_again_starts_nothing_and_changes_nothing(stack: Stack) -> None:
    before = stack.invoke("local", "status")
    result = stack.invoke("local", "up")
    after = stack.invoke("local", "status")

    assert result.exit_code == 0, result.output
    assert "moto   running" in result.stdout and "redis  running" in result.stdout
    assert "0 created, 0 updated" in result.stdout
    assert before.stdout.splitlines()[2:] == after.stdout.splitlines()[2:]  # same resources, same states


def test_status_lists_every_catalogue_resource_as_ok(stack: Stack) -> None:
    result = stack.invoke("local", "status")

    assert result.exit_code == 0, result.output
    for name in catalogue_names():
        assert row(result.stdout, name).split()[2] == "ok", name
    assert row(result.stdout, Q_REVIEW_REQUESTS).split()[3:6] == ["0", "0", "0"]  # visible, in flight, DLQ
    assert "started by avs" in result.stdout
    assert f"all {len(catalogue_names())} resources ok" in result.stdout


def test_status_shows_queue_depths(stack: Stack) -> None:
    sqs = stack.sqs()
    url = sqs.get_queue_url(QueueName=Q_REVIEW_REQUESTS)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    try:
        result = stack.invoke("local", "status")
        assert row(result.stdout, Q_REVIEW_REQUESTS).split()[3] == "1"
    finally:
        sqs.purge_queue(QueueUrl=url)


def test_status_reports_a_deleted_queue_as_missing_with_exit_1(stack: Stack) -> None:
    sqs = stack.sqs()
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=Q_REVIEW_REQUESTS)["QueueUrl"])

    result = stack.invoke("local", "status")

    assert result.exit_code == 1
    assert row(result.stdout, Q_REVIEW_REQUESTS).split()[2] == "MISSING"
    assert f"sqs {Q_REVIEW_REQUESTS} is missing" in result.stderr
    assert "avs local up" in result.stderr
    healed = stack.invoke("local", "up")
    assert f"created sqs:{Q_REVIEW_REQUESTS}" in healed.stdout
    assert stack.invoke("local", "status").exit_code == 0


def test_up_refuses_a_moto_port_taken_by_something_else(stack: Stack) -> None:
    class NotMoto(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_error(404)

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotMoto)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = CliRunner().invoke(
            cli,
            [
                "local",
                "up",
                "--data-dir",
                str(stack.data_dir / "other"),
                "--moto-port",
                str(server.server_port),
            ],
            env={**BASE_ENV, "AVS_REDIS_URL": f"redis://127.0.0.1:{stack.redis_port}/0"},
        )
    finally:
        server.shutdown()
    assert result.exit_code == 2
    assert f"port {server.server_port} on 127.0.0.1 is taken by something that is not a moto server" in (
        result.stderr
    )
    assert "--moto-port" in result.stderr


def test_up_without_redis_server_says_how_to_install_it(stack: Stack) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "local",
            "up",
            "--data-dir",
            str(stack.data_dir / "other"),
            "--moto-port",
            str(stack.moto_port),
            "--redis-port",
            str(free_port()),
        ],
        env={**BASE_ENV, "PATH": "/nonexistent"},
    )
    assert result.exit_code == 2
    assert "redis-server is not installed" in result.stderr
    assert "scripts/install-system-deps.sh" in result.stderr


def test_down_stops_what_up_started_and_status_then_says_what_to_run(stack: Stack) -> None:
    result = stack.invoke("local", "down")

    assert result.exit_code == 0, result.output
    assert "moto: stopped (pid" in result.stdout and "redis: stopped (pid" in result.stdout
    assert not port_open("127.0.0.1", stack.moto_port) and not port_open("127.0.0.1", stack.redis_port)

    again = stack.invoke("local", "down")
    assert "moto: not running" in again.stdout and "redis: not running" in again.stdout

    status = stack.invoke("local", "status")
    assert status.exit_code == 1
    assert "moto is down" in status.stderr and "redis is down" in status.stderr
    assert "avs local up" in status.stderr
    for name in catalogue_names():
        assert name in status.stdout
