"""How ``avs run`` supervises its components: a crash stops the rest, a second signal forces."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest

from avs_cli.run import FORCED_EXIT, _supervise


@pytest.fixture
async def restore_signal_handlers() -> AsyncIterator[None]:
    """``_supervise`` installs loop signal handlers; put the default ones back after the test."""
    yield
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)  # restores SIGINT -> KeyboardInterrupt, SIGTERM -> default


async def until_stopped(stop: asyncio.Event) -> None:
    await stop.wait()


async def test_a_component_that_crashes_stops_the_others_with_exit_1(restore_signal_handlers: None) -> None:
    stop = asyncio.Event()

    async def crash() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("the queue vanished")

    tasks = {"workers": asyncio.create_task(crash()), "cron": asyncio.create_task(until_stopped(stop))}
    code = await asyncio.wait_for(_supervise(tasks, stop, None), timeout=2)

    assert code == 1
    assert stop.is_set() and tasks["cron"].done()


async def test_a_clean_stop_exits_0(restore_signal_handlers: None) -> None:
    stop = asyncio.Event()
    tasks = {
        "workers": asyncio.create_task(until_stopped(stop)),
        "cron": asyncio.create_task(until_stopped(stop)),
    }
    asyncio.get_running_loop().call_later(0.02, stop.set)
    assert await asyncio.wait_for(_supervise(tasks, stop, None), timeout=2) == 0


async def test_a_second_signal_cancels_a_component_that_does_not_stop(restore_signal_handlers: None) -> None:
    stop = asyncio.Event()
    cancelled = asyncio.Event()

    async def stuck_draining() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    tasks = {"workers": asyncio.create_task(stuck_draining())}
    stop.set()  # the first signal
    supervisor = asyncio.create_task(_supervise(tasks, stop, None))
    await asyncio.sleep(0.05)
    assert not supervisor.done()  # waiting for the drain

    os.kill(os.getpid(), signal.SIGINT)  # the second signal
    assert await asyncio.wait_for(supervisor, timeout=2) == FORCED_EXIT
    assert cancelled.is_set()
