"""Which workers and cron jobs each service contributes to the all-in-one runner.

The contract for a service package ``avs_<svc>``: its ``bootstrap`` module may define

``handler_specs(ctx: RunContext) -> list[HandlerSpec]``
    the queue consumers the service runs (none is fine);
``cron_jobs(ctx: RunContext) -> dict[str, CronJob]``
    schedule name (from the topology catalogue) -> ``async def job(due: datetime)``.

Both are synchronous and do no network I/O (adapters connect lazily); anything that
needs closing is registered on ``ctx.resources``. Missing functions mean "nothing
yet" and are logged as such, never guessed at.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TypeVar

import structlog

from avs_shared.errors import ConfigurationError
from avs_shared.events.types import EventPayload
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.cron import CronJob
from avs_shared.runtime.spec import HandlerSpec
from avs_shared.topology import TOPOLOGY

log = structlog.get_logger(__name__)

SERVICES: tuple[str, ...] = ("sync", "enricher", "image_ingestor", "indexer", "api")
"""Service packages, importable as ``avs_<name>``."""

T = TypeVar("T")


def bootstrap_module(service: str) -> ModuleType | None:
    """``avs_<service>.bootstrap``, or None if the service has none yet.

    A bootstrap that exists but fails to import is a bug and is raised, not hidden.
    """
    name = f"avs_{service}.bootstrap"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, f"avs_{service}"):
            return None
        raise


def _contribution(service: str, function: str, ctx: RunContext, empty: T) -> T:
    module = bootstrap_module(service)
    fn: Callable[[RunContext], T] | None = getattr(module, function, None) if module else None
    if fn is None:
        return empty
    return fn(ctx)


def service_handler_specs(ctx: RunContext) -> list[HandlerSpec[EventPayload]]:
    """Every service's queue consumers, in :data:`SERVICES` order."""
    specs: list[HandlerSpec[EventPayload]] = []
    for service in SERVICES:
        found = list(_contribution(service, "handler_specs", ctx, list[HandlerSpec[EventPayload]]()))
        if found:
            log.info(f"workers registered for {service}", package=f"avs_{service}", handlers=len(found))
        else:
            log.info(f"no workers registered for {service}", package=f"avs_{service}")
        specs.extend(found)
    return specs


def service_cron_jobs(ctx: RunContext) -> dict[str, CronJob]:
    """Schedule name -> job, from every service; a name outside the catalogue is an error."""
    known = {s.name for s in TOPOLOGY.schedules}
    jobs: dict[str, CronJob] = {}
    owners: dict[str, str] = {}
    for service in SERVICES:
        for name, job in _contribution(service, "cron_jobs", ctx, dict[str, CronJob]()).items():
            if name not in known:
                raise ConfigurationError(
                    f"avs_{service}.bootstrap.cron_jobs names schedule {name!r}, which is not in the "
                    f"topology catalogue ({', '.join(sorted(known))})"
                )
            if name in jobs:
                raise ConfigurationError(f"schedule {name!r} has jobs from both {owners[name]} and {service}")
            jobs[name], owners[name] = job, service
    return jobs


StartupJob = Callable[[], Awaitable[object]]


def service_startup_jobs(ctx: RunContext) -> list[tuple[str, StartupJob]]:
    """One-shot jobs run once the workers are polling (e.g. seeding an empty catalogue)."""
    jobs: list[tuple[str, StartupJob]] = []
    for service in SERVICES:
        for job in _contribution(service, "startup_jobs", ctx, list[StartupJob]()):
            jobs.append((service, job))
    return jobs
