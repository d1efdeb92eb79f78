"""``avs run``: the whole system in one asyncio process (the composition root of ``make run``).

Order of things: bring the local stack up (as ``avs local up``), then run every
registered service worker, the API (uvicorn inside this loop) and the local cron
until SIGINT/SIGTERM. Shutdown: workers stop polling and drain, the cron stops
(a running job is awaited), the API closes, clients close. A second signal forces:
draining is abandoned and the exit code is 130.

Servers: moto and redis-server are stopped on exit only if this run started them
(``--keep-servers`` leaves them running). Start them with ``avs local up`` first to
keep moto's in-memory state across runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import structlog
import uvicorn

from avs_api.app import create_app
from avs_api.settings import ApiSettings
from avs_cli.local import bring_up, echo_up, open_stack, stack_options
from avs_cli.registry import StartupJob, service_cron_jobs, service_handler_specs, service_startup_jobs
from avs_cli.settings import LocalSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.embedded.processes import port_open
from avs_shared.errors import ConfigurationError
from avs_shared.runtime import build_runtime
from avs_shared.runtime.components import shared_embedder, shared_vector_index
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.cron import CronJob, LocalCron
from avs_shared.runtime.logging import configure_logging
from avs_shared.runtime.schedule_dispatcher import ScheduleDispatcher
from avs_shared.runtime.signals import stop_on_signals
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
from avs_shared.runtime.worker import Worker
from avs_shared.settings import load_settings
from avs_shared.topology import TOPOLOGY, Schedule

log = structlog.get_logger("avs.run")

FORCED_EXIT = 130


@click.command("run")
@click.option("--host", help="Address the API binds to (AVS_API_HOST, default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="API port (AVS_API_PORT, default 8000).")
@click.option("--no-api", is_flag=True, help="Run the workers and the cron only.")
@click.option(
    "--keep-servers", is_flag=True, help="Leave moto/redis running on exit even if this run started them."
)
@stack_options
def run(
    host: str | None,
    port: int | None,
    no_api: bool,
    keep_servers: bool,
    data_dir: Path | None,
    moto_port: int | None,
    redis_port: int | None,
) -> None:
    """Run everything on the embedded stack: workers, the API and the cron, in one process."""
    if host:
        os.environ["AVS_API_HOST"] = host
    if port:
        os.environ["AVS_API_PORT"] = str(port)
    if "AVS_LOG_FORMAT" not in os.environ and sys.stderr.isatty():
        os.environ["AVS_LOG_FORMAT"] = "console"  # people read a terminal; pipes and files get JSON
    stack = open_stack(data_dir, moto_port, redis_port)
    settings = stack.settings
    api = None if no_api else load_settings(ApiSettings)
    if api is not None and port_open(api.api_host, api.api_port):
        raise ConfigurationError(
            f"port {api.api_port} on {api.api_host} is already in use (another `avs run`?); stop it, "
            "or choose another port with --port / AVS_API_PORT (or --no-api)"
        )
    configure_logging(settings)
    try:
        report = bring_up(stack)
    except KeyboardInterrupt:
        click.echo("interrupted while starting; `avs local down` stops what was started", err=True)
        raise SystemExit(FORCED_EXIT) from None
    echo_up(report)
    code = 1
    try:
        code = asyncio.run(serve_all(settings, api))
    except KeyboardInterrupt:  # a signal before our handlers were installed
        code = FORCED_EXIT
    finally:
        shutdown_tracing()
        if report.started and not keep_servers:
            for name in report.started:
                click.echo(f"avs run: {stack.stop(name)}")
        elif report.started:
            click.echo(f"avs run: left running: {', '.join(report.started)} (`avs local down` stops them)")
    raise SystemExit(code)


async def serve_all(settings: LocalSettings, api: ApiSettings | None) -> int:
    """Run workers, cron and API until a signal; returns the exit code."""
    configure_tracing(settings.service_name)
    stop = stop_on_signals()
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
        specs = service_handler_specs(ctx)
        cron = LocalCron(_cron_pairs(service_cron_jobs(ctx)), grace_s=settings.worker_drain_timeout_seconds)
        for name, due in cron.next_fires().items():
            log.info("cron schedule armed", schedule=name, next_fire=due.isoformat())

        tasks: dict[str, asyncio.Task[None]] = {}
        if specs:
            worker = Worker(
                specs,
                aws=aws,
                settings=settings,
                publisher=publisher,
                idempotency=idempotency,
                claim_check=claim_check,
            )
            tasks["workers"] = asyncio.create_task(worker.run(stop), name="workers")
        else:
            log.info("no queue consumers to run: no service registered a worker yet")
        tasks["cron"] = asyncio.create_task(cron.run(stop), name="cron")
        # Moto stores one-time schedules (episode updates) but never fires them: deliver them here.
        tasks["schedules"] = asyncio.create_task(ScheduleDispatcher(aws).run(stop), name="schedules")
        server: _EmbeddedServer | None = None
        if api is not None:
            server = _EmbeddedServer(
                uvicorn.Config(
                    create_app(api, index=shared_vector_index(ctx), embedder=shared_embedder(ctx)),
                    host=api.api_host,
                    port=api.api_port,
                    log_config=None,  # uvicorn's loggers propagate to our structured handler
                    lifespan="on",
                    timeout_graceful_shutdown=5,
                )
            )
            tasks["api"] = asyncio.create_task(_serve_api(server), name="api")
            await _until_started(server, tasks["api"])
        _banner(api, server, specs_count=len(specs), cron_count=len(cron.next_fires()))
        startup = [
            asyncio.create_task(_run_startup(service, job), name=f"startup-{service}")
            for service, job in service_startup_jobs(ctx)
        ]
        try:
            return await _supervise(tasks, stop, server)
        finally:
            for task in startup:
                task.cancel()
            await asyncio.gather(*startup, return_exceptions=True)


async def _run_startup(service: str, job: StartupJob) -> None:
    """A failed start-up job is logged; the system keeps running without its result."""
    try:
        await job()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("start-up job failed", service=service)


async def _supervise(
    tasks: dict[str, asyncio.Task[None]], stop: asyncio.Event, server: _EmbeddedServer | None
) -> int:
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({waiter, *tasks.values()}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    # A component that ends before stop was asked for has crashed (or failed to start).
    early = [] if stop.is_set() else [name for name, task in tasks.items() if task in done]
    if early:
        code = 1
        for name in early:
            exc = tasks[name].exception() if not tasks[name].cancelled() else None
            log.error("component stopped on its own; shutting down", component=name, error=repr(exc))
    stop.set()
    waiter.cancel()
    log.info("stopping: workers drain, running cron jobs get a grace period, the API closes (Ctrl-C forces)")
    forced = _arm_force(tasks, server)

    # Order matters: no new work is polled, in-flight messages finish, then HTTP closes.
    for name in ("workers", "cron", "schedules"):
        if name in tasks and not await _settle(name, tasks[name]):
            code = 1
    if server is not None:
        server.should_exit = True
        if not await _settle("api", tasks["api"]):
            code = 1
    if forced.is_set():
        return FORCED_EXIT
    log.info("stopped cleanly" if code == 0 else "stopped after a failure", exit_code=code)
    return code


def _arm_force(tasks: dict[str, asyncio.Task[None]], server: _EmbeddedServer | None) -> asyncio.Event:
    """From now on SIGINT/SIGTERM cancel everything instead of waiting for a graceful stop.

    This replaces the second-signal behaviour of ``stop_on_signals`` (re-raise the
    signal and die at once): cancelling lets ``run`` still stop the servers it started.
    A third signal exits immediately.
    """
    forced = asyncio.Event()
    loop = asyncio.get_running_loop()

    def force() -> None:
        if forced.is_set():  # a third signal: something does not yield to cancellation
            os._exit(FORCED_EXIT)
        forced.set()
        log.warning("second signal: forcing shutdown, in-flight work is abandoned")
        if server is not None:
            server.force_exit = True
            server.should_exit = True
        for task in tasks.values():
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, force)
    return forced


async def _settle(name: str, task: asyncio.Task[None]) -> bool:
    """Wait for a component to end; False if it failed."""
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
        log.warning("component cancelled", component=name)
    except Exception:
        log.exception("component failed", component=name)
        return False
    return True


async def _serve_api(server: _EmbeddedServer) -> None:
    try:
        await server.serve()
    except SystemExit as exc:  # uvicorn exits the process on a startup failure; we must not
        raise RuntimeError(
            f"the API failed to start (uvicorn exit code {exc.code}); see the log above"
        ) from None


async def _until_started(server: _EmbeddedServer, task: asyncio.Task[None]) -> None:
    """Wait until uvicorn listens (it has no event for that) or its task ends."""
    while not server.started:
        done, _ = await asyncio.wait({task}, timeout=0.05)
        if done:
            return


def _cron_pairs(jobs: dict[str, CronJob]) -> list[tuple[Schedule, CronJob]]:
    pairs = []
    for schedule in TOPOLOGY.schedules:
        job = jobs.get(schedule.name)
        if job is None:
            log.info(
                f"no job yet for schedule {schedule.name}",
                schedule=schedule.name,
                owner=schedule.service,
                expression=schedule.expression,
            )
        else:
            pairs.append((schedule, job))
    return pairs


def _banner(
    api: ApiSettings | None, server: _EmbeddedServer | None, *, specs_count: int, cron_count: int
) -> None:
    lines = [f"avs run: {specs_count} queue consumers, {cron_count} cron jobs"]
    if api is not None and server is not None and server.started:
        base = f"http://{api.api_host}:{api.api_port}"
        lines.append(f"avs run: API listening on {base} (docs {base}/docs, health {base}/health)")
    lines.append("avs run: press Ctrl-C (or send SIGTERM) to stop; press it twice to force")
    click.echo("\n".join(lines))


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: this process stops everything together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
