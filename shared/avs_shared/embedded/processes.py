"""Start, find and stop the local servers of the embedded stack.

Each server writes a pid file and its log under the data directory, so
``avs local up`` in one shell and ``avs local down`` in another agree on what runs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from avs_shared.errors import ConfigurationError


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class ManagedServer:
    """A server process recorded in ``<data_dir>/run/<name>.pid``."""

    name: str
    host: str
    port: int
    data_dir: Path

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def recorded_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def running(self) -> bool:
        return port_open(self.host, self.port)

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # Ctrl-C in the terminal is ours to handle, not the child's
        )
        self.pid_file.write_text(str(proc.pid))
        return proc

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.running():
                return
            if proc.poll() is not None:
                raise ConfigurationError(
                    f"{self.name} exited at start (code {proc.returncode}); see {self.log_file}"
                )
            time.sleep(0.05)
        raise ConfigurationError(f"{self.name} did not listen on {self.host}:{self.port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the recorded process; True if one was stopped."""
        pid = self.recorded_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _pid_alive(pid):
            try:  # reap it if it is our child
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


class MotoServer(ManagedServer):
    """moto in server mode, with ``MOTO_PORT`` matching its port and Step Functions execution on.

    Started through :mod:`avs_shared.embedded.moto_server`: moto's own app over HTTP/1.1
    keep-alive, with its per-value costs cut (see there).

    Moto's Step Functions service integrations call back into moto at
    ``localhost:$MOTO_PORT``, hence the variable.
    """

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 4566) -> None:
        super().__init__("moto", host, port, data_dir)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> bool:
        """Start unless something already listens; True if this call started it."""
        if self.running():
            self.configure()
            return False
        module = "avs_shared.embedded.moto_server"
        argv = [sys.executable, "-m", module, "-H", self.host, "-p", str(self.port)]
        proc = self._spawn(argv, env={"MOTO_PORT": str(self.port)})
        self._wait_ready(proc, timeout)
        self.configure()
        return True

    def configure(self) -> None:
        """Enable Step Functions execution (idempotent)."""
        body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
        self._post("/moto-api/config", body)

    def reset(self) -> None:
        """Drop every resource (tests use this between cases)."""
        self._post("/moto-api/reset", b"")
        self.configure()

    def _post(self, path: str, body: bytes) -> None:
        req = urllib.request.Request(self.url + path, data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                resp.read()
        except urllib.error.URLError as exc:
            raise ConfigurationError(f"moto server at {self.url} did not answer {path}: {exc}") from exc


class RedisServer(ManagedServer):
    """redis-server from the Debian package, persisting to ``<data_dir>/redis``."""

    def __init__(
        self, data_dir: Path, host: str = "127.0.0.1", port: int = 6379, persist: bool = True
    ) -> None:
        super().__init__("redis", host, port, data_dir)
        self.persist = persist

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 15.0) -> bool:
        if self.running():
            return False
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigurationError(
                "redis-server is not installed: run `bash scripts/install-system-deps.sh` "
                "(or `apt-get install redis-server`), or point AVS_REDIS_URL at a running Redis"
            )
        store = self.data_dir / "redis"
        store.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--bind", self.host, "--port", str(self.port), "--dir", str(store.resolve())]
        argv += ["--appendonly", "yes"] if self.persist else ["--save", "", "--appendonly", "no"]
        proc = self._spawn(argv)
        self._wait_ready(proc, timeout)
        return True
