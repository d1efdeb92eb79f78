"""Turn SIGTERM / SIGINT into a stop event for :meth:`Worker.run`.

The first signal asks for a graceful stop (the worker drains in-flight handlers).
A second one means the operator will not wait: it logs ``forcing``, restores the
default handler and re-raises the signal, so the process ends now. Messages of
handlers cut short come back after their visibility timeout; their claims are
taken over once the lease expires.
"""

from __future__ import annotations

import asyncio
import os
import signal

import structlog

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals(loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Event:
    """An event set by the first SIGTERM or SIGINT; a second signal forces the exit.

    Call it from inside the running loop (e.g. at the top of ``main()``'s coroutine).

    Parameters
    ----------
    loop:
        The loop to install the handlers on; the running loop by default.
    """
    loop = loop or asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if not stop.is_set():
            log.info("worker.stop_requested", signal=name, hint="send it again to force")
            stop.set()
            return
        log.warning("worker.forcing", signal=name)
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, on_signal, int(sig))
    return stop
