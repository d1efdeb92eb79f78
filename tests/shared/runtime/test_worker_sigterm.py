"""SIGTERM during processing loses no message and processes none twice (real processes)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import IO

from avs_runtime_testkit import Kit, anime_new, eventually

from avs_shared.embedded.processes import MotoServer
from avs_shared.topology import Q_ENRICHER_ANIME_NEW

SCRIPT = Path(__file__).with_name("sigterm_worker.py")
Q = Q_ENRICHER_ANIME_NEW
MESSAGES = 12
CONCURRENCY = 4
HANDLER_S = 1.0


def child_env(moto: MotoServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AVS_", "OTEL_"))}
    env.update(
        AWS_ENDPOINT_URL=moto.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AVS_WORKER_POLL_WAIT_SECONDS="1",
        AVS_WORKER_DRAIN_TIMEOUT_SECONDS="20",
        AVS_LOG_FORMAT="console",
        PYTHONUNBUFFERED="1",
    )
    return env


def read_journal(path: Path) -> list[tuple[str, ...]]:
    if not path.exists():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines() if line]


def open_log(path: Path) -> IO[bytes]:
    return path.open("ab")


async def spawn(
    journal: Path, log: IO[bytes], moto: MotoServer, handler_s: float = HANDLER_S
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        str(journal),
        str(handler_s),
        str(CONCURRENCY),
        env=child_env(moto),
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )


async def terminate(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), timeout=30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise


def ops(journal: Path, op: str, pid: int | None = None) -> list[str]:
    return [e[1] for e in read_journal(journal) if e[0] == op and (pid is None or e[2] == str(pid))]


async def test_sigterm_during_processing_loses_nothing_and_processes_nothing_twice(
    kit: Kit, moto_server: MotoServer, tmp_path: Path
) -> None:
    await kit.tune_queue(Q, visibility_timeout_s=2)  # heartbeats keep in-flight messages hidden
    sent = []
    for _ in range(MESSAGES):
        env = anime_new().envelope()
        sent.append(env.event_id)
        await kit.send(env)
    journal = tmp_path / "journal.txt"
    log = open_log(tmp_path / "workers.log")
    try:
        first = await spawn(journal, log, moto_server)
        try:
            await eventually(lambda: len(ops(journal, "start")) >= CONCURRENCY, within=30)
            assert ops(journal, "done") == [], "SIGTERM must arrive while handlers are in flight"
            rc = await terminate(first)
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
        assert rc == 0
        started = ops(journal, "start", first.pid)
        assert sorted(ops(journal, "done", first.pid)) == sorted(started), "in-flight work finished"
        assert 0 < len(started) < MESSAGES
        assert read_journal(journal)[-1] == ("exit", str(first.pid)), "exited after its handlers finished"

        second = await spawn(journal, log, moto_server)
        try:
            await eventually(lambda: len(ops(journal, "done")) >= MESSAGES, within=30)
            assert await terminate(second) == 0
        finally:
            if second.returncode is None:
                second.kill()
                await second.wait()
    finally:
        log.close()

    starts, dones = Counter(ops(journal, "start")), Counter(ops(journal, "done"))
    assert set(starts) == set(sent), "nothing lost"
    assert max(starts.values()) == 1, f"processed twice: {[k for k, n in starts.items() if n > 1]}"
    assert dones == starts
    assert await kit.depth(Q) == 0
    assert await kit.depth(f"{Q}-dlq") == 0


async def test_a_second_sigterm_forces_the_exit(kit: Kit, moto_server: MotoServer, tmp_path: Path) -> None:
    await kit.send(anime_new().envelope())
    journal = tmp_path / "journal.txt"
    log_path = tmp_path / "worker.log"
    log = open_log(log_path)
    try:
        proc = await spawn(journal, log, moto_server, handler_s=60)  # a drain would take a minute
        try:
            await eventually(lambda: len(ops(journal, "start")) == 1, within=30)
            proc.send_signal(signal.SIGTERM)
            await eventually(lambda: "worker.draining" in log_path.read_text(), within=10)
            rc = await terminate(proc)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    finally:
        log.close()
    assert rc == -signal.SIGTERM
    assert "worker.forcing" in log_path.read_text()
    assert ops(journal, "done") == []
