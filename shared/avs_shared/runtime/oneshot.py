"""Run one cron job of a service and exit: what a cloud scheduled task does.

EventBridge rules start a service's container with the job name as its argument
(``python -m avs_indexer weekly-snapshot``); :func:`run_cron_job` builds the same
:class:`RunContext` the all-in-one runner builds, asks the service's
``cron_jobs(ctx)`` for that job, runs it once with the current time and closes
everything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from avs_shared.adapters.aws import AwsClients
from avs_shared.errors import ConfigurationError
from avs_shared.runtime import build_runtime
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.cron import CronJob
from avs_shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


async def run_cron_job(
    settings: ServiceSettings, cron_jobs: Callable[[RunContext], dict[str, CronJob]], name: str
) -> object:
    """Run the job ``name`` of ``cron_jobs`` once, now; returns what the job returned.

    Raises
    ------
    ConfigurationError
        The service has no job of that name (the message lists the ones it has).
    """
    async with contextlib.AsyncExitStack() as resources:
        aws = await resources.enter_async_context(AwsClients(settings))
        publisher, idempotency, claim_check = await build_runtime(aws, settings)
        ctx = RunContext(
            settings=settings,
            aws=aws,
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
            data_dir=settings.data_dir,
            resources=resources,
        )
        jobs = cron_jobs(ctx)
        job = jobs.get(name)
        if job is None:
            raise ConfigurationError(
                f"no cron job {name!r} here; this service runs: {', '.join(sorted(jobs))}"
            )
        due = datetime.now(UTC)
        log.info("cron job started", schedule=name, due=due.isoformat())
        result = await job(due)
        log.info("cron job finished", schedule=name)
        return result
