"""The source over HTTP (a loopback stand-in for GitHub): streamed and retried downloads,
``.zst`` JSONL, and version detection by commit, ETag and checksum."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from avs_sync_testkit import Drain, FakeGitHub, entry, mal, raw_item, record, recorded_version

from avs_shared.adapters.aws import AwsClients
from avs_shared.errors import Permanent, Retryable
from avs_shared.schema import AnimeEntry
from avs_shared.topology import Q_ENRICHER_ANIME_NEW, T_ENRICHED
from avs_sync.sync import SyncOptions, run_sync

Seed = Callable[[Sequence[AnimeEntry]], Awaitable[None]]
ASSET = "anime-offline-database.jsonl.zst"
KEPT = entry("00000000-0000-4000-8000-000000000001", "Kept", [mal(1)])
GONE = entry("00000000-0000-4000-8000-000000000002", "Gone", [mal(2)])
FAST = SyncOptions(download_backoff_s=0.01)


def publish(github: FakeGitHub, offline: Callable[..., Path], records: list[dict[str, Any]]) -> None:
    github.files[ASSET] = offline(records, fmt="jsonl", zst=True).read_bytes()


async def test_a_zst_jsonl_download_is_retried_and_an_unchanged_etag_skips_the_download(
    make_ports: Any,
    seed: Seed,
    offline: Callable[..., Path],
    github: FakeGitHub,
    aws: AwsClients,
    drain: Drain,
    snapshot_object: Any,
) -> None:
    ports = await make_ports(sync_source_url=github.url(ASSET))
    await seed([KEPT, GONE])
    await snapshot_object(None)
    publish(github, offline, [record("Kept", [mal(1)]), record("New", [mal(3)])])
    github.fail_next, github.fail_gets = 1, 1  # the first HEAD and the first GET fail with 503

    progress: list[tuple[str, int, int]] = []
    summary = await run_sync(ports, FAST, progress=lambda *p: progress.append(p))

    assert summary.version is not None and summary.version.startswith("etag:")
    assert await recorded_version(aws) == summary.version
    assert (summary.records, summary.new, summary.orphaned) == (2, 1, 1)
    assert github.downloads(ASSET) == 2  # one failed, one whole
    assert {p[0] for p in progress} >= {"download", "scan", "diff", "write"}
    assert progress[[p[0] for p in progress].index("download")][2] == len(github.files[ASSET])
    assert len(await drain(Q_ENRICHER_ANIME_NEW)) == 1

    again = await run_sync(ports, FAST)
    assert again.skipped_unchanged and github.downloads(ASSET) == 2  # a HEAD, no download

    publish(github, offline, [record("Kept", [mal(1)]), record("New", [mal(3)]), record("Newer", [mal(4)])])
    third = await run_sync(ports, FAST)
    assert not third.skipped_unchanged and third.version != summary.version
    assert (third.new, third.locked_elsewhere) == (1, 1)


async def test_the_default_source_is_versioned_by_the_commit_of_latest(
    make_ports: Any,
    seed: Seed,
    offline: Callable[..., Path],
    github: FakeGitHub,
    aws: AwsClients,
    snapshot_object: Any,
) -> None:
    ports = await make_ports(sync_source_url=github.url(ASSET), sync_version_url=github.version_url)
    await seed([KEPT])
    await snapshot_object(None)
    publish(github, offline, [record("Kept", [mal(1)])])
    github.commit = "a" * 40

    first = await run_sync(ports, FAST)
    assert first.version == "a" * 40 and await recorded_version(aws) == "a" * 40

    second = await run_sync(ports, FAST)
    assert second.skipped_unchanged and github.downloads(ASSET) == 1
    assert not any(method == "HEAD" for method, _ in github.requests)  # the commit was enough

    github.commit = "b" * 40
    third = await run_sync(ports, FAST)
    assert not third.skipped_unchanged and await recorded_version(aws) == "b" * 40
    # Another --source is not the `latest` release: its own ETag versions it.
    github.files["weekly-2025-36.jsonl.zst"] = github.files[ASSET]
    fourth = await run_sync(
        ports, SyncOptions(source=github.url("weekly-2025-36.jsonl.zst"), download_backoff_s=0.01)
    )
    assert fourth.version is not None and fourth.version.startswith("etag:")


async def test_a_missing_or_failing_source_is_a_clear_error_and_writes_nothing(
    make_ports: Any,
    seed: Seed,
    offline: Callable[..., Path],
    github: FakeGitHub,
    aws: AwsClients,
    snapshot_object: Any,
) -> None:
    ports = await make_ports(sync_source_url=github.url("nope.json"), sync_download_attempts=2)
    await seed([KEPT, GONE])
    await snapshot_object("before")
    with pytest.raises(Permanent, match=r"HTTP 404.*--source"):
        await run_sync(ports, FAST)
    with pytest.raises(Permanent, match="does not exist"):
        await run_sync(ports, SyncOptions(source=str(offline([])) + ".missing"))
    publish(github, offline, [record("Kept", [mal(1)])])
    github.fail_next = 100
    with pytest.raises(Retryable, match="failed 2 times"):
        await run_sync(ports, SyncOptions(source=github.url(ASSET), download_backoff_s=0.01))
    assert github.downloads(ASSET) == 2
    assert (await raw_item(aws, T_ENRICHED, GONE.id) or {})["system_status"]["S"] == "ACTIVE"
    assert await recorded_version(aws) == "before"
