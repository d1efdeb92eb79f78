"""Helpers for the tests of adapters that run a worker process (``child_worker``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

#: How long a test waits for a process to do what it must before failing: a bound on
#: hanging, not a performance expectation.
PATIENCE_S = 30.0


def proc_file(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


def proc_stat(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name: state, ppid, ..."""
    return proc_file(pid, "stat").rsplit(")", 1)[1].split()


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie has exited: its files and flocks are gone)."""
    try:
        state = proc_stat(pid)[0]
    except FileNotFoundError:
        return False
    return state not in {"Z", "X"}


async def until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {PATIENCE_S:.0f} s")
        await asyncio.sleep(0.02)


async def orphan_worker(script: str, tmp_path: Path) -> int:
    """Run ``script`` (which prints its worker's pid and exits without closing it); the pid."""
    # The worker inherits stderr: a pipe there would keep subprocess.run waiting for it.
    with (tmp_path / "child.stderr").open("wb") as stderr:
        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=stderr,
            check=True,
            timeout=120,
        )
    return int(out.stdout)
