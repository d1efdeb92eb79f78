"""A worker process for the SIGTERM test (run as a script, not collected by pytest).

Usage: ``python sigterm_worker.py <journal> <handler_sleep_s> <concurrency>``

Each handled event appends ``start <event_id> <pid>`` and, after sleeping,
``done <event_id> <pid>`` to the journal (O_APPEND, one write per line, so two
processes can share it); the process appends ``exit <pid>`` when ``run`` returned.
The AWS endpoint comes from ``AWS_ENDPOINT_URL``, settings from ``AVS_*``.
"""

from __future__ import annotations

import asyncio
import os
import sys

from avs_shared.adapters.aws import AwsClients
from avs_shared.events.envelope import Envelope
from avs_shared.events.types import AnimeNew
from avs_shared.runtime import HandlerSpec, MessageContext, Worker, build_runtime, stop_on_signals
from avs_shared.settings import ServiceSettings
from avs_shared.topology import Q_ENRICHER_ANIME_NEW


def journal(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


async def main(path: str, sleep_s: float, concurrency: int) -> None:
    pid = os.getpid()
    stop = stop_on_signals()
    settings = ServiceSettings()

    async def handle(evt: AnimeNew, ctx: MessageContext) -> list[Envelope]:
        journal(path, f"start {ctx.envelope.event_id} {pid}")
        await asyncio.sleep(sleep_s)
        journal(path, f"done {ctx.envelope.event_id} {pid}")
        return []

    async with AwsClients(settings) as aws:
        publisher, idempotency, claim_check = await build_runtime(aws, settings)
        worker = Worker(
            [HandlerSpec("sigterm-probe", Q_ENRICHER_ANIME_NEW, AnimeNew, handle, concurrency=concurrency)],
            aws=aws,
            settings=settings,
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
        )
        journal(path, f"ready {pid}")
        await worker.run(stop)
    journal(path, f"exit {pid}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
