"""``avs sync`` and ``avs schedule-daily`` as an operator runs them (against the moto server)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from avs_sync_testkit import entry, mal, raw_item, record
from click.testing import CliRunner, Result

from avs_cli.main import cli
from avs_shared.adapters.aws import AwsClients
from avs_shared.schema import AnimeEntry
from avs_shared.topology import T_ENRICHED

Seed = Callable[[Sequence[AnimeEntry]], Awaitable[None]]
KEPT = entry("00000000-0000-4000-8000-000000000001", "Kept", [mal(1)])
GONE = entry("00000000-0000-4000-8000-000000000002", "Gone", [mal(2)])


async def avs(*args: str) -> Result:
    """The CLI in a thread: it runs its own event loop, as it does in a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), catch_exceptions=False)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    data_dir = tmp_path / "cli-data"
    monkeypatch.setenv("AVS_DATA_DIR", str(data_dir))  # restored afterwards (the CLI exports it)
    monkeypatch.setenv("AVS_SYNC_VERSION_URL", "")
    return data_dir


async def test_sync_dry_run_then_sync_then_a_broken_file(
    cli_env: Path, seed: Seed, offline: Callable[..., Path], aws: AwsClients, snapshot_object: Any
) -> None:
    await seed([KEPT, GONE])
    await snapshot_object(None)
    path = offline([record("Kept", [mal(1)]), record("New", [mal(3)])], fmt="jsonl", zst=True)

    dry = await avs("sync", "--source", str(path), "--dry-run", "--data-dir", str(cli_env))
    assert dry.exit_code == 0, dry.output
    assert "DRY RUN: nothing was written" in dry.output
    assert "new 1 (would be enqueued)" in dry.output and "orphaned 1" in dry.output
    assert (await raw_item(aws, T_ENRICHED, GONE.id) or {})["system_status"]["S"] == "ACTIVE"

    done = await avs("sync", "--source", str(path), "--data-dir", str(cli_env))
    assert done.exit_code == 0, done.output
    assert "new 1 enqueued" in done.output and "version recorded" in done.output
    assert (await raw_item(aws, T_ENRICHED, GONE.id) or {})["system_status"]["S"] == "ORPHANED"

    again = await avs("sync", "--source", str(path), "--data-dir", str(cli_env))
    assert "unchanged" in again.output and "--force" in again.output

    path.write_bytes(path.read_bytes()[:-5])
    broken = await avs("sync", "--source", str(path), "--data-dir", str(cli_env))
    assert broken.exit_code == 1
    assert "truncated" in broken.output

    daily = await avs("schedule-daily", "--data-dir", str(cli_env))
    assert daily.exit_code == 0, daily.output
    assert "ongoing 0: 0 episode schedules created" in daily.output
