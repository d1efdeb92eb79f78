"""The weekly sync at catalogue scale, against one projected parallel scan of the same table.

On a throwaway stack (``bench/_stack.py``):

1. ``n`` entries are written straight into ``anime-enriched-data`` with ``BatchWriteItem``
   (the attributes the sync reads, plus a short synopsis so items are not empty);
   the vector index gets points only for the entries the sync will orphan;
2. an offline file of the same anime (``avs_indexer.synthetic.generate_offline_records``)
   as ``.jsonl.zst``, the production default, with 1 % of the anime removed, 1 % new
   ones and 2 % changed (half a different ``status``, half more ``episodes``);
3. **baseline**: one parallel scan of the table with the sync's projection
   (``DynamoEntryStore.scan(segments, SCAN_FIELDS)``), consumed and discarded;
4. **the sync**: ``run_sync`` end to end (checksum, scan, streamed diff, orphaning,
   locks and ``anime-new``, review requests, version record), with the time of each
   phase from its progress callbacks;
5. the baseline scan again (the two bracket the sync, so machine load hits both).

Reported: wall time of the sync and of its phases, the baseline, their ratio (goal
≤ 3×), peak memory (the process's resident high-water mark during the sync over its
resident size before it, via ``/proc/self/clear_refs``), moto's CPU, and the summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import resource
import time
from pathlib import Path
from typing import Any

import zstandard

from avs_indexer.synthetic import entry_id, generate_offline_records, write_offline_file
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.ports.vector import VectorPoint
from avs_shared.runtime import build_runtime
from avs_shared.runtime.logging import configure_logging
from avs_shared.topology import SNAPSHOT_KEY, T_ENRICHED
from avs_sync.catalogue import SCAN_FIELDS
from avs_sync.ports import SyncPorts, build_sync_ports
from avs_sync.settings import SyncSettings
from avs_sync.sync import SyncOptions, run_sync
from bench._stack import proc_stats, provision, throwaway_stack

MODEL = ("bench-sync-model", 8)
SEGMENTS = 4


def _vm(field: str) -> float:
    """A ``VmXxx`` line of /proc/self/status, in MiB."""
    match = re.search(rf"^{field}:\s+(\d+)", Path("/proc/self/status").read_text(), re.M)
    return int(match[1]) / 1024 if match else float("nan")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _item(anime_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """The DynamoDB item of an entry, with the attributes production entries have for the sync."""
    return {
        "anime_id": {"S": anime_id},
        "id": {"S": anime_id},
        "title": {"S": record["title"]},
        "type": {"S": record["type"]},
        "status": {"S": record["status"]},
        "episodes": {"N": str(record["episodes"])},
        "sources": {"L": [{"S": s} for s in record["sources"]]},
        "synonyms": {"L": [{"S": s} for s in record["synonyms"][:5]]},
        "tags": {"L": [{"S": s} for s in record["tags"][:10]]},
        "synopsis": {"S": f"{record['title']} " * 20},
        "system_status": {"S": "ACTIVE"},
        "version": {"N": "1"},
    }


async def _load_table(aws: AwsClients, items: list[dict[str, Any]], concurrency: int = 4) -> None:
    ddb = await aws.client("dynamodb")
    gate = asyncio.Semaphore(concurrency)

    async def write(chunk: list[dict[str, Any]]) -> None:
        async with gate:
            pending: dict[str, Any] = {T_ENRICHED: [{"PutRequest": {"Item": i}} for i in chunk]}
            while pending:
                resp = await ddb.batch_write_item(RequestItems=pending)
                pending = resp.get("UnprocessedItems") or {}

    await asyncio.gather(*(write(items[i : i + 25]) for i in range(0, len(items), 25)))


def _files(root: Path, n: int, seed: int) -> tuple[list[dict[str, Any]], Path, dict[str, int]]:
    """The table's items and the offline file (removed, new and changed anime)."""
    removed = max(1, n // 100)
    new = max(1, n // 100)
    changed = max(2, n // 50)
    records = list(generate_offline_records(n + new, seed=seed))
    items = [_item(entry_id(seed, i), records[i]) for i in range(n)]
    # Entries 0..removed-1 leave the source; n..n+new-1 are new; a spread of others change.
    step = max(1, (n - removed) // changed)
    changed_at = list(range(removed, n, step))[:changed]
    for k, i in enumerate(changed_at):
        if k % 2 == 0:
            records[i]["status"] = "ONGOING" if records[i]["status"] != "ONGOING" else "FINISHED"
        else:
            records[i]["episodes"] = records[i]["episodes"] + 5
    plain = root / "offline.jsonl"
    write_offline_file(plain, records[removed:], "jsonl")
    path = root / "anime-offline-database.jsonl.zst"
    with plain.open("rb") as src, path.open("wb") as dst:
        zstandard.ZstdCompressor(level=10).copy_stream(src, dst)
    plain.unlink()
    return items, path, {"removed": removed, "new": new, "changed": len(changed_at)}


async def _scan_s(ports: SyncPorts) -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    rows = ports.entries.scan(SEGMENTS, list(SCAN_FIELDS))
    async with contextlib.aclosing(rows):
        async for _ in rows:
            count += 1
    return time.perf_counter() - started, count


async def _bench(stack: Any, n: int, seed: int) -> dict[str, Any]:
    settings = stack.settings()
    sync_settings = SyncSettings(
        **{
            k: getattr(settings, k)
            for k in ("service_name", "data_dir", "redis_url", "log_level", "log_format")
        },
        sync_version_url="",
        sync_scan_segments=SEGMENTS,
    )
    out: dict[str, Any] = {"n": n}
    started = time.perf_counter()
    items, path, shape = _files(stack.root, n, seed)
    out["prepare_file_s"] = time.perf_counter() - started
    out["file_bytes"] = path.stat().st_size
    out["shape"] = shape
    async with AwsClients(settings) as aws:
        started = time.perf_counter()
        await _load_table(aws, items)
        out["load_table_s"] = time.perf_counter() - started
        del items
        await S3ObjectStore(aws).put(SNAPSHOT_KEY, b'{"data": []}', metadata={"source-commit-sha": "before"})
        index = EdgeVectorIndex(stack.data_dir / "qdrant-edge" / "anime")
        await index.ensure_collection(*MODEL)
        vector = [1.0] + [0.0] * (MODEL[1] - 1)
        await index.upsert(
            [
                VectorPoint(
                    entry_id(seed, i), {"text": vector, "tags": vector}, payload={"system_status": "ACTIVE"}
                )
                for i in range(shape["removed"])
            ]
        )
        publisher, _, claim_check = await build_runtime(aws, settings)
        ports = build_sync_ports(sync_settings, aws, index, publisher, claim_check)
        ports = SyncPorts(**{**ports.__dict__, "index_model": MODEL})

        scan_before, rows = await _scan_s(ports)
        assert rows == n, f"the table holds {rows} entries, expected {n}"
        moto_before = proc_stats(stack.moto_pid())
        phases: dict[str, float] = {}

        def progress(phase: str, done: int, total: int) -> None:
            phases.setdefault(phase, time.perf_counter())

        rss_before = _vm("VmRSS")
        peak_reset = _reset_peak()
        started = time.perf_counter()
        summary = await run_sync(ports, SyncOptions(source=str(path)), progress=progress)
        ended = time.perf_counter()
        peak = _vm("VmHWM") if peak_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        moto_after = proc_stats(stack.moto_pid())
        scan_after, _ = await _scan_s(ports)
        await index.close()

    seen = sorted((t, name) for name, t in phases.items() if name in ("scan", "diff", "write"))
    marks = [("source + checksum", started), *((name, t) for t, name in seen)]
    labels = {"scan": "read catalogue (scan)", "diff": "diff (parse + match)", "write": "merge (writes)"}
    out["phases_s"] = {
        labels.get(name, name): (marks[k + 1][1] if k + 1 < len(marks) else ended) - t
        for k, (name, t) in enumerate(marks)
    }
    out["sync_s"] = ended - started
    out["scan_s"] = [scan_before, scan_after]
    baseline = (scan_before + scan_after) / 2
    out["ratio"] = out["sync_s"] / baseline
    out["rss_before_mib"] = rss_before
    out["peak_rss_mib"] = peak
    out["peak_exact"] = peak_reset
    out["moto_cpu_s"] = (moto_after.cpu_s - moto_before.cpu_s) if moto_after and moto_before else None
    out["summary"] = {
        k: getattr(summary, k)
        for k in (
            "records",
            "entries",
            "new",
            "locked_elsewhere",
            "orphaned",
            "resurrected",
            "unchanged",
            "flagged",
            "invalid_records",
            "vector_points_missing",
            "version_recorded",
        )
    }
    return out


def run(n: int = 40_000, *, seed: int = 0) -> dict[str, Any]:
    """Sync an ``n``-record offline file against an ``n``-entry table on a throwaway stack."""
    with throwaway_stack(prefix="avs-bench-sync-") as stack:
        settings = stack.settings()
        configure_logging(settings)
        asyncio.run(provision(settings))
        return asyncio.run(_bench(stack, n, seed))


def print_report(r: dict[str, Any]) -> None:
    shape = r["shape"]
    print(
        f"table {r['n']} entries (loaded in {r['load_table_s']:.1f} s); "
        f"offline file {r['summary']['records']} records, {r['file_bytes'] / 2**20:.1f} MiB .jsonl.zst "
        f"(written in {r['prepare_file_s']:.1f} s): "
        f"{shape['removed']} removed, {shape['new']} new, {shape['changed']} changed"
    )
    before, after = r["scan_s"]
    print(
        f"baseline: projected parallel scan ({SEGMENTS} segments)  "
        f"{before:8.2f} s before, {after:.2f} s after"
    )
    print(f"sync end to end                                    {r['sync_s']:8.2f} s")
    for name, seconds in r["phases_s"].items():
        print(f"  {name:<48} {seconds:8.2f} s")
    print(f"ratio sync / scan                                  {r['ratio']:8.2f} x  (goal <= 3)")
    how = "VmHWM after clear_refs" if r["peak_exact"] else "ru_maxrss (whole run)"
    print(
        f"peak memory of this process during the sync        {r['peak_rss_mib']:8.1f} MiB "
        f"({how}; {r['rss_before_mib']:.1f} MiB before it, "
        f"+{r['peak_rss_mib'] - r['rss_before_mib']:.1f} MiB)"
    )
    if r["moto_cpu_s"] is not None:
        print(f"moto CPU during the sync                           {r['moto_cpu_s']:8.2f} s")
    print(f"summary: {r['summary']}")


if __name__ == "__main__":
    import sys

    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 40_000)
    print_report(result)
