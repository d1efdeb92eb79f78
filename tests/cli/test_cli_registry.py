"""The all-in-one runner's per-service registry: ``avs_<svc>.bootstrap.handler_specs`` and ``cron_jobs``."""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import pytest
import structlog

from avs_cli import registry
from avs_shared.adapters.aws import AwsClients
from avs_shared.errors import ConfigurationError
from avs_shared.events.envelope import Envelope
from avs_shared.events.types import AnimeNew
from avs_shared.runtime import build_runtime
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.spec import HandlerSpec, MessageContext
from avs_shared.settings import ServiceSettings
from avs_shared.topology import Q_ENRICHER_ANIME_NEW, S_WEEKLY_SYNC


@pytest.fixture
async def ctx(aws: AwsClients, settings: ServiceSettings) -> AsyncIterator[RunContext]:
    publisher, idempotency, claim_check = await build_runtime(aws, settings)
    async with contextlib.AsyncExitStack() as resources:
        yield RunContext(
            settings=settings,
            aws=aws,
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
            data_dir=settings.data_dir,
            resources=resources,
        )


async def on_anime_new(payload: AnimeNew, msg: MessageContext) -> Sequence[Envelope]:
    return []


async def sync_job(due: datetime) -> None:
    return None


def install_service(monkeypatch: pytest.MonkeyPatch, name: str, **functions: object) -> None:
    """A service package ``avs_<name>`` whose bootstrap defines ``functions``."""
    package = types.ModuleType(f"avs_{name}")
    package.__path__ = []
    bootstrap = types.ModuleType(f"avs_{name}.bootstrap")
    for attr, value in functions.items():
        setattr(bootstrap, attr, value)
    monkeypatch.setitem(sys.modules, package.__name__, package)
    monkeypatch.setitem(sys.modules, bootstrap.__name__, bootstrap)


async def test_specs_and_jobs_are_collected_and_services_without_them_are_named(
    ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[RunContext] = []
    spec = HandlerSpec("enricher.anime-new", Q_ENRICHER_ANIME_NEW, AnimeNew, on_anime_new)

    def handler_specs(c: RunContext) -> list[HandlerSpec[AnimeNew]]:
        seen.append(c)
        return [spec]

    install_service(monkeypatch, "fake_enricher", handler_specs=handler_specs)
    install_service(monkeypatch, "fake_sync", cron_jobs=lambda c: {S_WEEKLY_SYNC: sync_job})
    install_service(monkeypatch, "fake_empty")  # a bootstrap with neither function
    monkeypatch.setattr(registry, "SERVICES", ("fake_enricher", "fake_sync", "fake_empty", "no_such_service"))

    with structlog.testing.capture_logs() as logs:
        specs = registry.service_handler_specs(ctx)
        jobs = registry.service_cron_jobs(ctx)

    assert specs == [spec] and seen == [ctx]
    assert jobs == {S_WEEKLY_SYNC: sync_job}
    events = [entry["event"] for entry in logs]
    assert "workers registered for fake_enricher" in events
    for missing in ("fake_sync", "fake_empty", "no_such_service"):
        assert f"no workers registered for {missing}" in events


async def test_a_job_for_a_schedule_outside_the_catalogue_is_a_configuration_error(
    ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_service(monkeypatch, "fake_sync", cron_jobs=lambda c: {"hourly-typo": sync_job})
    monkeypatch.setattr(registry, "SERVICES", ("fake_sync",))
    with pytest.raises(ConfigurationError, match="'hourly-typo', which is not in the topology catalogue"):
        registry.service_cron_jobs(ctx)


async def test_two_services_claiming_one_schedule_is_a_configuration_error(
    ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_service(monkeypatch, "fake_a", cron_jobs=lambda c: {S_WEEKLY_SYNC: sync_job})
    install_service(monkeypatch, "fake_b", cron_jobs=lambda c: {S_WEEKLY_SYNC: sync_job})
    monkeypatch.setattr(registry, "SERVICES", ("fake_a", "fake_b"))
    with pytest.raises(ConfigurationError, match="jobs from both fake_a and fake_b"):
        registry.service_cron_jobs(ctx)


def test_a_bootstrap_that_fails_to_import_is_not_mistaken_for_a_missing_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = types.ModuleType("avs_fake_broken")
    broken.__path__ = []
    monkeypatch.setitem(sys.modules, "avs_fake_broken", broken)

    def find_spec(name: str, *args: object) -> object:
        if name == "avs_fake_broken.bootstrap":
            raise ModuleNotFoundError("No module named 'yaml'", name="yaml")
        return None

    finder = types.SimpleNamespace(find_spec=find_spec)
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    with pytest.raises(ModuleNotFoundError, match="yaml"):
        registry.bootstrap_module("fake_broken")


def test_the_real_services_register_without_errors() -> None:
    for service in registry.SERVICES:
        registry.bootstrap_module(service)  # importable or absent, never broken
