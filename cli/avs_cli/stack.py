"""The embedded local stack: moto server + redis-server + the provisioned topology.

``up`` is idempotent: it starts only what is not already answering and provisions
only what is missing. Servers it starts are recorded in ``<data_dir>/run/*.pid``,
which is how ``down`` (and ``avs run`` on exit) know what is theirs to stop.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from avs_cli.settings import LocalSettings, find_infra_dir
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner, ProvisionReport, ResourceStatus
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.embedded.processes import ManagedServer, MotoServer, RedisServer, port_open
from avs_shared.errors import ConfigurationError
from avs_shared.topology import TOPOLOGY

ServerStateName = Literal["started", "running", "external", "down"]
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class ServerState:
    """One server of the stack as ``up``/``status`` found it."""

    name: str
    where: str
    state: ServerStateName
    pid: int | None = None
    detail: str = ""

    @property
    def up(self) -> bool:
        return self.state != "down"


@dataclass
class UpReport:
    servers: list[ServerState]
    provision: ProvisionReport
    started: list[str] = field(default_factory=list)  # names of servers this call started


class LocalStack:
    """The servers and resources of the embedded stack, as configured by :class:`LocalSettings`."""

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir
        self.moto = MotoServer(settings.data_dir, host=settings.moto_host, port=settings.moto_port)
        redis = urlsplit(settings.redis_url)
        self.redis_host = redis.hostname or "127.0.0.1"
        self.redis = RedisServer(settings.data_dir, host=self.redis_host, port=redis.port or 6379)

    # ------------------------------------------------------------------ what is where
    @property
    def endpoint(self) -> str:
        return self.settings.aws_endpoint_url or "AWS (default endpoints)"

    @property
    def moto_managed(self) -> bool:
        """True when ``AWS_ENDPOINT_URL`` is our moto address (not LocalStack elsewhere, not AWS)."""
        url = self.settings.aws_endpoint_url
        if not url:
            return False
        parts = urlsplit(url)
        return parts.hostname in _LOOPBACK and parts.port == self.settings.moto_port

    def server(self, name: str) -> ManagedServer:
        return self.moto if name == "moto" else self.redis

    # ------------------------------------------------------------------ up
    def up(self) -> UpReport:
        """Start what is missing, then provision the whole catalogue (idempotent)."""
        moto = self.ensure_moto()
        redis = self.ensure_redis()
        servers = [moto, redis]
        report = asyncio.run(self.provision())
        return UpReport(servers, report, [s.name for s in servers if s.state == "started"])

    def ensure_moto(self) -> ServerState:
        if not self.moto_managed:
            if not _endpoint_reachable(self.settings.aws_endpoint_url):
                raise ConfigurationError(
                    f"the AWS endpoint {self.endpoint} (AWS_ENDPOINT_URL) does not accept connections; "
                    "start it (LocalStack: `docker compose -f docker-compose.local.yml up -d`), or unset "
                    "AWS_ENDPOINT_URL to use the embedded moto server"
                )
            return ServerState(
                "aws", self.endpoint, "external", detail="AWS_ENDPOINT_URL is not managed by avs"
            )
        where = self.moto.url
        if self.moto.running():
            try:
                self.moto.configure()
            except ConfigurationError as exc:
                if _is_localstack(where):
                    return ServerState("aws", where, "external", detail="LocalStack answers there; using it")
                raise ConfigurationError(
                    f"port {self.moto.port} on {self.moto.host} is taken by something that is not a moto "
                    f"server ({exc}). Stop that process (`ss -ltnp 'sport = :{self.moto.port}'` shows it), "
                    "or run moto elsewhere with --moto-port / AVS_MOTO_PORT"
                ) from exc
            return ServerState("moto", where, "running", self._own_pid(self.moto), self._owner(self.moto))
        self.moto.start()
        return ServerState("moto", where, "started", self._own_pid(self.moto), f"log {self.moto.log_file}")

    def ensure_redis(self) -> ServerState:
        where = _redacted(self.settings.redis_url)
        if redis_answers(self.settings.redis_url):
            return ServerState("redis", where, "running", self._own_pid(self.redis), self._owner(self.redis))
        if self.redis_host not in _LOOPBACK:
            raise ConfigurationError(
                f"Redis at {where} does not answer PING; start it, or unset AVS_REDIS_URL to let avs "
                "run a local redis-server"
            )
        if self.redis.running():
            raise ConfigurationError(
                f"port {self.redis.port} on {self.redis.host} is taken by something that does not answer "
                "Redis PING; stop it, or run Redis elsewhere with --redis-port / AVS_REDIS_PORT"
            )
        self.redis.start()  # says how to install redis-server when it is missing
        return ServerState("redis", where, "started", self._own_pid(self.redis), f"log {self.redis.log_file}")

    async def provision(self) -> ProvisionReport:
        infra = find_infra_dir(self.settings)
        try:
            async with AwsClients(self.settings) as aws:
                return await Provisioner(aws, TOPOLOGY, infra_dir=infra).provision()
        except (BotoCoreError, ClientError) as exc:
            raise ConfigurationError(f"provisioning against {self.endpoint} failed: {exc}") from exc

    # ------------------------------------------------------------------ status
    def server_states(self) -> list[ServerState]:
        """The servers as they are now; starts nothing."""
        states: list[ServerState] = []
        if self.moto_managed:
            where = self.moto.url
            if self.moto.running():
                states.append(
                    ServerState("moto", where, "running", self._own_pid(self.moto), self._owner(self.moto))
                )
            else:
                states.append(ServerState("moto", where, "down", detail="run `avs local up`"))
        else:
            reachable = _endpoint_reachable(self.settings.aws_endpoint_url)
            states.append(
                ServerState(
                    "aws",
                    self.endpoint,
                    "external" if reachable else "down",
                    detail="not managed by avs" if reachable else "does not accept connections",
                )
            )
        where = _redacted(self.settings.redis_url)
        if redis_answers(self.settings.redis_url):
            states.append(
                ServerState("redis", where, "running", self._own_pid(self.redis), self._owner(self.redis))
            )
        else:
            states.append(ServerState("redis", where, "down", detail="run `avs local up`"))
        return states

    async def inspect(self, timeout_s: float = 30.0) -> list[ResourceStatus]:
        infra = find_infra_dir(self.settings)
        async with AwsClients(self.settings) as aws:
            return await asyncio.wait_for(
                Provisioner(aws, TOPOLOGY, infra_dir=infra).inspect(), timeout=timeout_s
            )

    # ------------------------------------------------------------------ down
    def stop(self, name: str) -> str:
        """Stop ``name`` ("moto" or "redis") if avs started it; returns what happened."""
        server = self.server(name)
        pid = self._own_pid(server)
        if pid is None:
            server.pid_file.unlink(missing_ok=True)
            if server.running():
                return f"{name}: {server.host}:{server.port} was not started by avs; left running"
            return f"{name}: not running"
        server.stop()
        return f"{name}: stopped (pid {pid})"

    # ------------------------------------------------------------------ helpers
    def _own_pid(self, server: ManagedServer) -> int | None:
        """The recorded pid, if it is alive and still the program we started (pids get reused)."""
        pid = server.recorded_pid()
        if pid is None:
            return None
        expected = "moto" if server.name == "moto" else "redis-server"
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and expected not in cmdline.read_bytes().decode(errors="replace"):
            return None
        return pid

    def _owner(self, server: ManagedServer) -> str:
        return "started by avs" if self._own_pid(server) else "not started by avs"


def redis_answers(url: str, timeout_s: float = 0.5) -> bool:
    async def ping() -> bool:
        cache = RedisCache(url, timeout_s=timeout_s)
        try:
            return await cache.ping()
        finally:
            await cache.close()

    return asyncio.run(ping())


def _is_localstack(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/_localstack/health", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _endpoint_reachable(url: str | None) -> bool:
    if not url:
        return True  # AWS itself: not ours to probe
    parts = urlsplit(url)
    return port_open(
        parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80), 2.0
    )


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url
