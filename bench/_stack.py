"""A throwaway embedded stack for benchmarks: moto server + redis-server on free ports.

Everything lives in a fresh temporary directory (server logs, the Qdrant Edge shard,
redis) that is removed afterwards; the environment variables botocore reads
(``AWS_ENDPOINT_URL`` and emulator credentials) are set for the duration and restored.

    with throwaway_stack() as stack:
        settings = stack.settings()
        asyncio.run(provision(settings))
        ...

Also: CPU time and memory of a process from ``/proc`` (:func:`proc_stats`), used to
report what the moto child process costs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner, ProvisionReport
from avs_shared.embedded.processes import MotoServer, RedisServer, free_port
from avs_shared.settings import ServiceSettings
from avs_shared.topology import TOPOLOGY

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"

# Emulator credentials only; never real ones. AWS_PROFILE is dropped so a developer's
# profile cannot point the clients elsewhere.
_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
_DROP = ("AWS_PROFILE", "AWS_SESSION_TOKEN")
# Read by the moto child: allow PurgeQueue more often than AWS's once a minute, so a
# benchmark can empty a queue nobody consumes (see purge_queues).
_MOTO_ENV = {"MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false"}


@dataclass
class Stack:
    """The running throwaway stack."""

    root: Path
    moto: MotoServer
    redis: RedisServer

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def settings(self, **overrides: Any) -> ServiceSettings:
        """Settings pointing at this stack; the vector shard lives under ``data_dir``."""
        values: dict[str, Any] = {
            "service_name": "avs-bench",
            "data_dir": self.data_dir,
            "redis_url": self.redis.url,
            "aws_endpoint_url": self.moto.url,
            "aws_region": _ENV["AWS_DEFAULT_REGION"],
            "log_level": "WARNING",
            "log_format": "console",
        }
        values.update(overrides)
        return ServiceSettings(**values)

    def moto_pid(self) -> int | None:
        return self.moto.recorded_pid()

    def redis_pid(self) -> int | None:
        return self.redis.recorded_pid()


@contextlib.contextmanager
def throwaway_stack(prefix: str = "avs-bench-") -> Iterator[Stack]:
    """Start moto and redis on free ports in a temp dir; stop them and clean up on exit."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    saved = {k: os.environ.get(k) for k in (*_ENV, *_DROP, *_MOTO_ENV, "AWS_ENDPOINT_URL")}
    moto = MotoServer(root, port=free_port())
    redis = RedisServer(root, port=free_port(), persist=False)
    try:
        os.environ.update(_ENV)
        os.environ.update(_MOTO_ENV)
        for key in _DROP:
            os.environ.pop(key, None)
        moto.start()
        os.environ["AWS_ENDPOINT_URL"] = moto.url
        redis.start()
        yield Stack(root, moto, redis)
    finally:
        with contextlib.suppress(Exception):
            redis.stop()
        with contextlib.suppress(Exception):
            moto.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)


async def provision(settings: ServiceSettings) -> ProvisionReport:
    """Create the whole topology catalogue (bucket, tables, topics, queues, ...) on the stack."""
    async with AwsClients(settings) as aws:
        return await Provisioner(aws, TOPOLOGY, infra_dir=INFRA).provision()


async def purge_queues(aws: AwsClients, names: Iterable[str]) -> None:
    """Empty the named SQS queues (moto only allows this every call with _MOTO_ENV)."""
    sqs = await aws.client("sqs")
    for name in names:
        url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
        await sqs.purge_queue(QueueUrl=url)


@dataclass(frozen=True)
class ProcStats:
    """CPU seconds (user + system, whole life so far) and memory in MiB of one process."""

    cpu_s: float
    rss_mib: float
    peak_rss_mib: float


def descendants(pid: int) -> list[int]:
    """The process ids of ``pid``'s children, their children, and so on."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            pending += children
    return found


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and of its live descendants (a worker process counts to its parent)."""
    return sum(s.cpu_s for p in [pid, *descendants(pid)] if (s := proc_stats(p)) is not None)


def proc_stats(pid: int | None) -> ProcStats | None:
    """Read ``/proc/<pid>/stat`` and ``status`` (VmRSS, VmHWM); None if unavailable."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    mem = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            mem[key] = int(value.split()[0]) / 1024
    return ProcStats(cpu, mem.get("VmRSS", 0.0), mem.get("VmHWM", 0.0))
