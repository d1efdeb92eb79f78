"""``python -m avs_indexer``: the indexer's queue consumers in a process of their own
(one container per service in the cloud).

``python -m avs_indexer weekly-snapshot`` runs that cron job once and exits: the cloud
scheduled task (under ``avs run`` the local cron fires it). Exit codes: 0 done, 1 the
job failed, 2 bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from avs_indexer.bootstrap import all_specs, cron_jobs
from avs_indexer.ports import open_indexer_ports
from avs_shared.errors import AvsError, ConfigurationError
from avs_shared.runtime.logging import configure_logging
from avs_shared.runtime.oneshot import run_cron_job
from avs_shared.runtime.signals import stop_on_signals
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
from avs_shared.runtime.worker import Worker
from avs_shared.settings import ServiceSettings, load_settings
from avs_shared.topology import S_WEEKLY_SNAPSHOT


async def serve(settings: ServiceSettings) -> None:
    stop = stop_on_signals()
    async with open_indexer_ports(settings) as ports:
        await ports.ready_index()
        worker = Worker(
            all_specs(ports),
            aws=ports.aws,
            settings=settings,
            publisher=ports.publisher,
            idempotency=ports.idempotency,
            claim_check=ports.claim_check,
        )
        await worker.run(stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m avs_indexer", description=__doc__.splitlines()[0])
    parser.add_argument("job", nargs="?", choices=[S_WEEKLY_SNAPSHOT], help="run one cron job and exit")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(ServiceSettings, service_name="avs-indexer")
    except ConfigurationError as exc:
        print(f"avs-indexer: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    configure_logging(settings)
    configure_tracing(settings.service_name)
    try:
        if args.job is None:
            asyncio.run(serve(settings))
        else:
            result = asyncio.run(run_cron_job(settings, cron_jobs, args.job))
            print(f"{args.job}: {result}")
    except ConfigurationError as exc:
        print(f"avs-indexer: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    except AvsError as exc:
        print(f"avs-indexer: {args.job or 'serve'} failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
