"""``python -m avs_api``: serve the API with uvicorn on AVS_API_HOST:AVS_API_PORT.

``python -m avs_api curated-lists-refresh`` (or ``review-heartbeat``) runs that cron
job once and exits: the cloud scheduled task (under ``avs run`` the local cron fires
them). Exit codes: 0 done, 1 the job failed, 2 bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvicorn

from avs_api.app import create_app
from avs_api.bootstrap import cron_jobs
from avs_api.settings import ApiSettings
from avs_shared.errors import AvsError, ConfigurationError
from avs_shared.runtime.logging import configure_logging
from avs_shared.runtime.oneshot import run_cron_job
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
from avs_shared.settings import load_settings
from avs_shared.topology import TOPOLOGY


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m avs_api", description=__doc__.splitlines()[0])
    jobs = [s.name for s in TOPOLOGY.schedules if s.service == "api"]
    parser.add_argument("job", nargs="?", choices=jobs, help="run one cron job and exit")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(ApiSettings)
    except ConfigurationError as exc:
        print(f"avs-api: {exc}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings)
    configure_tracing(settings.service_name)
    try:
        if args.job is None:
            # log_config=None: uvicorn's loggers propagate to our structured root handler.
            uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None)
        else:
            result = asyncio.run(run_cron_job(settings, cron_jobs, args.job))
            print(f"{args.job}: {result}")
    except ConfigurationError as exc:
        print(f"avs-api: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    except AvsError as exc:
        print(f"avs-api: {args.job or 'serve'} failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
