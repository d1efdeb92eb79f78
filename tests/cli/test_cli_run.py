"""``avs run`` as a subprocess: serves /health and /ready, stops cleanly on SIGINT.

Servers: ``run`` stops moto/redis on exit only if it started them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from avs_cli.main import cli
from avs_shared.embedded.processes import MotoServer, RedisServer, free_port, port_open

AVS = str(Path(sys.executable).with_name("avs"))


@dataclass
class Ports:
    data_dir: Path
    moto: int
    redis: int
    api: int

    @property
    def stack_options(self) -> list[str]:
        return [
            "--data-dir",
            str(self.data_dir),
            "--moto-port",
            str(self.moto),
            "--redis-port",
            str(self.redis),
        ]

    def pid(self, name: str) -> int:
        return int((self.data_dir / "run" / f"{name}.pid").read_text())


@pytest.fixture
def ports(tmp_path: Path) -> Iterator[Ports]:
    p = Ports(tmp_path / "data", free_port(), free_port(), free_port())
    yield p
    MotoServer(p.data_dir, port=p.moto).stop()  # whatever a failed test left behind
    RedisServer(p.data_dir, port=p.redis).stop()


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AVS_", "OTEL_"))}
    env.update(AVS_LOG_FORMAT="json", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    return env


def start_run(ports: Ports, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [AVS, "run", "--port", str(ports.api), *ports.stack_options, *extra],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for_health(proc: subprocess.Popen[str], port: int, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"avs run exited early with {proc.returncode}:\n{out}\n{err}")
        if port_open("127.0.0.1", port):
            try:
                if get(f"http://127.0.0.1:{port}/health")[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError):
                pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"avs run did not answer /health within {timeout}s:\n{proc.communicate()}")


def stop_with_sigint(proc: subprocess.Popen[str], timeout: float = 90.0) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"avs run did not exit within {timeout}s of SIGINT:\n{out}\n{err}")
    return out, err


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_serves_the_api_and_stops_cleanly_on_sigint_stopping_the_servers_it_started(
    ports: Ports,
) -> None:
    proc = start_run(ports)
    wait_for_health(proc, ports.api)
    status, body = get(f"http://127.0.0.1:{ports.api}/ready")
    assert status == 200, body
    moto_pid, redis_pid = ports.pid("moto"), ports.pid("redis")
    # /ready opened the vector index: its shard is owned by an index worker process.
    index_pid = int((ports.data_dir / "qdrant-edge" / "anime" / "LOCK").read_text())
    assert index_pid != proc.pid
    assert b"avs_shared.adapters.vector.edge_worker" in Path(f"/proc/{index_pid}/cmdline").read_bytes()

    # An empty catalogue gets the project's sample first, a bulk job whose first chunk exports
    # the model (~10 s): a SIGINT meanwhile drains that chunk before the run exits.
    started = time.monotonic()
    out, err = stop_with_sigint(proc)

    assert proc.returncode == 0, f"{out}\n{err}"
    assert time.monotonic() - started < 90
    assert f"API listening on http://127.0.0.1:{ports.api}" in out
    assert "Ctrl-C" in out
    assert "no workers registered for sync" in err  # honest about what is not there yet
    assert "cron schedule armed" in err and "weekly-sync" in err  # the sync registers its jobs
    assert "schedules.dispatcher_started" in err  # the local dispatcher of one-time schedules
    assert "moto: stopped" in out and "redis: stopped" in out
    assert not alive(index_pid)  # closed with the run, before it exited
    deadline = time.monotonic() + 5
    while (alive(moto_pid) or alive(redis_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(moto_pid) and not alive(redis_pid)
    assert not port_open("127.0.0.1", ports.api)


def test_run_leaves_running_the_servers_it_did_not_start(ports: Ports) -> None:
    env = {"AWS_ENDPOINT_URL": None, "AVS_REDIS_URL": None, "AVS_DATA_DIR": None}
    env |= {"AVS_MOTO_PORT": None, "AVS_REDIS_PORT": None}
    up = CliRunner().invoke(cli, ["local", "up", *ports.stack_options], env=env)
    assert up.exit_code == 0, up.output
    moto_pid, redis_pid = ports.pid("moto"), ports.pid("redis")

    proc = start_run(ports)
    wait_for_health(proc, ports.api)
    out, err = stop_with_sigint(proc)

    assert proc.returncode == 0, f"{out}\n{err}"
    assert "stopped" not in out.replace("stopped cleanly", "")
    assert alive(moto_pid) and alive(redis_pid)
    assert port_open("127.0.0.1", ports.moto) and port_open("127.0.0.1", ports.redis)


def test_run_refuses_an_api_port_in_use_before_starting_anything(ports: Ports) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(ports.api), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", ports.api) and time.monotonic() < deadline:
            time.sleep(0.05)
        result = subprocess.run(
            [AVS, "run", "--port", str(ports.api), *ports.stack_options],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        proc.terminate()
        proc.wait()
    assert result.returncode == 2
    assert f"port {ports.api} on 127.0.0.1 is already in use" in result.stderr
    assert "--port" in result.stderr
    assert not port_open("127.0.0.1", ports.moto)  # nothing was started
