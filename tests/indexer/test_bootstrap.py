"""``avs bootstrap``: a complete, idempotent, resumable load that writes nothing from a broken file."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from avs_indexer.bulk import InvalidInputFile, bootstrap
from avs_indexer.jobs import BulkJobs, JobState
from avs_indexer.ports import IndexerPorts
from avs_indexer.synthetic import write_enriched_file
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.embedded.processes import MotoServer, RedisServer
from avs_shared.events import Envelope, derive_event_id
from avs_shared.ports.vector import DenseQuery, HybridQuery, SearchFilter, SparseQuery, StatusScope
from avs_shared.schema import AnimeEntry, image_urls
from avs_shared.topology import (
    BULK_PREFIX,
    Q_IMAGE_REQUESTED,
    Q_INDEXER_BULK_CHUNKS,
    SNAPSHOT_KEY,
    SOURCE_COMMIT_METADATA,
    T_BULK_JOBS,
    T_ENRICHED,
)

Drain = Callable[[str], Awaitable[list[Envelope]]]
ScanTable = Callable[[str], Awaitable[list[dict[str, Any]]]]
ListKeys = Callable[[str], Awaitable[list[str]]]
OpenPorts = Callable[[Path], Awaitable[IndexerPorts]]

AVS = Path(sys.executable).with_name("avs")
ANY = SearchFilter(status=StatusScope.ANY)
CHUNK = 16
SYNTHETIC = 150  # entries of the killed bootstrap: 15 chunks of 10 (the CLI's smallest chunk)
TITLE_QUERIES = {
    "Cowboy Bebop": "Cowboy Bebop",
    "進撃の巨人": "Shingeki no Kyojin",
    "Attack on Titan": "Shingeki no Kyojin",
    "Frieren": "Sousou no Frieren",
    "鋼の錬金術師": "Hagane no Renkinjutsushi: Fullmetal Alchemist",
}


def expected_image_event_ids(entries: list[AnimeEntry]) -> set[str]:
    return {
        derive_event_id("image-requested", e.id, *sorted({ref.url for ref in image_urls(e)}))
        for e in entries
        if image_urls(e)
    }


def canonical(items: list[dict[str, Any]]) -> dict[str, str]:
    """Raw DynamoDB items by key, as comparable text."""
    return {i["anime_id"]["S"]: json.dumps(i, sort_keys=True) for i in items}


def _sample_doc(sample_file: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(sample_file.read_text(encoding="utf-8"))
    return doc


# ----------------------------------------------------------------------------- the sample


async def test_bootstrap_of_the_sample_is_complete(
    ports: IndexerPorts,
    sample_file: Path,
    sample_entries: list[AnimeEntry],
    sample_by_title: dict[str, AnimeEntry],
    drain: Drain,
    scan_table: ScanTable,
) -> None:
    report = await bootstrap(
        ports, str(sample_file), source_commit_sha="0123abcd", chunk_size=CHUNK, executor="local"
    )

    assert (report.entries, report.chunks, report.resumed_chunks, report.executor) == (64, 4, 0, "local")
    assert report.uploaded and report.notes == []
    items = await scan_table(T_ENRICHED)
    assert sorted(i["anime_id"]["S"] for i in items) == sorted(e.id for e in sample_entries)
    index = ports.index
    assert await index.count(ANY) == 64
    stored = await ports.entries.get(sample_by_title["Cowboy Bebop"].id)
    assert stored is not None and stored.title_japanese == "カウボーイビバップ"

    messages = await drain(Q_IMAGE_REQUESTED)
    expected = expected_image_event_ids(sample_entries)
    # One event per anime carrying all of its URLs.
    assert len(expected) == sum(1 for e in sample_entries if image_urls(e)) == 64
    assert len(messages) == len(expected)
    assert {m.event_id for m in messages} == expected
    requested = [str(i["url"]) for m in messages if m.payload for i in m.payload["images"]]
    assert sorted(requested) == sorted(ref.url for e in sample_entries for ref in image_urls(e))
    assert {m.correlation_id for m in messages} == {report.job_id}

    snapshot = await ports.objects.get(SNAPSHOT_KEY)
    assert snapshot.body == await asyncio.to_thread(sample_file.read_bytes)
    assert snapshot.metadata[SOURCE_COMMIT_METADATA] == "0123abcd"
    job = await BulkJobs(ports.aws).get(report.job_id)
    assert job is not None and job.finished and job.done == frozenset(range(4))

    for query, title in TITLE_QUERIES.items():
        hits = await index.search(SparseQuery(text=query), limit=3)
        assert hits and hits[0].id == sample_by_title[title].id, (query, hits)
    vector = (await ports.embedder.embed(["Death Note"]))[0].tolist()
    hybrid = await index.search(
        HybridQuery(dense=[DenseQuery(vector)], sparse=SparseQuery(text="Death Note")), limit=3
    )
    assert hybrid[0].id == sample_by_title["Death Note"].id
    assert hybrid[0].payload is not None and hybrid[0].payload["studios"] == ["Madhouse"]


async def test_running_the_bootstrap_again_changes_nothing(
    ports: IndexerPorts, sample_file: Path, drain: Drain, scan_table: ScanTable, tmp_path: Path
) -> None:
    doc = _sample_doc(sample_file)
    doc["data"] = doc["data"][:24]  # a part of the sample: 3 chunks of 8
    source = tmp_path / "part.json"
    source.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    first = await bootstrap(ports, str(source), source_commit_sha="0123abcd", chunk_size=8)
    items_before = canonical(await scan_table(T_ENRICHED))
    images_before = await drain(Q_IMAGE_REQUESTED)
    snapshot_before = await ports.objects.get(SNAPSHOT_KEY)
    assert (first.chunks, first.executor, first.uploaded) == (3, "local", True)  # auto: this process
    assert (len(items_before), len(images_before)) == (24, 24)

    again = await bootstrap(ports, str(source), source_commit_sha="0123abcd", chunk_size=8)

    assert again.job_id == first.job_id
    assert again.notes == ["already complete: nothing to do"]
    assert (again.resumed_chunks, again.chunks, again.uploaded) == (3, 3, False)
    assert canonical(await scan_table(T_ENRICHED)) == items_before
    assert await ports.index.count(ANY) == 24
    assert await drain(Q_IMAGE_REQUESTED) == []
    assert await drain(Q_INDEXER_BULK_CHUNKS) == []
    snapshot_after = await ports.objects.get(SNAPSHOT_KEY)
    assert snapshot_after.metadata == snapshot_before.metadata


# ----------------------------------------------------------------------------- killed midway


async def _wait_for_partial_progress(
    jobs: BulkJobs, job_id: str, proc: asyncio.subprocess.Process, within_s: float = 120.0
) -> JobState:
    """Poll the job record until at least one chunk, but not every chunk, is done."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        state = await jobs.get(job_id)
        if state is not None and 0 < len(state.done) < state.chunks:
            return state
        if proc.returncode is not None:
            raise AssertionError(f"the bootstrap exited ({proc.returncode}) before it could be killed midway")
        await asyncio.sleep(0.05)
    raise AssertionError("no chunk finished in time")


async def test_a_killed_bootstrap_resumes_without_redoing_finished_chunks(
    provisioned: Provisioner,
    moto_server: MotoServer,
    redis_server: RedisServer,
    aws: AwsClients,
    open_ports: OpenPorts,
    seed_model: Callable[[Path], None],
    drain: Drain,
    scan_table: ScanTable,
    tmp_path: Path,
) -> None:
    chunk_size = 10
    source = tmp_path / "synthetic.json"
    written = await asyncio.to_thread(write_enriched_file, source, SYNTHETIC, seed=7)
    doc = json.loads(await asyncio.to_thread(written.path.read_bytes))
    for item in doc["data"]:  # one image each: moto's SQS gets slow with many messages
        item["images"] = {"covers": item["images"]["covers"][:1]}
        for character in item.get("characters", []):
            character.pop("images", None)
    raw = json.dumps(doc, ensure_ascii=False).encode()
    await asyncio.to_thread(source.write_bytes, raw)
    entries = [AnimeEntry.from_json_dict(d) for d in doc["data"]]
    job_id = f"bootstrap-{hashlib.sha256(raw).hexdigest()[:20]}-{chunk_size}"
    data_dir = tmp_path / "cli-data"
    seed_model(data_dir)  # the model export, so the process does not spend its time exporting
    jobs = BulkJobs(aws)
    log = tmp_path / "first-run.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(AVS),
            "bootstrap",
            "--file",
            str(source),
            "--workers",
            "local",
            "--chunk-size",
            str(chunk_size),
            env=_cli_env(moto_server, redis_server, data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            await _wait_for_partial_progress(jobs, job_id, proc)
        finally:
            proc.kill()
            await asyncio.wait_for(proc.wait(), timeout=30)
    assert proc.returncode == -signal.SIGKILL, log.read_text()
    at_kill = await jobs.get(job_id)
    assert at_kill is not None and 0 < len(at_kill.done) < at_kill.chunks == SYNTHETIC // chunk_size

    # Mark what the killed run finished; a rewrite of an item or a point drops the mark.
    finished_ids = [e.id for n, e in enumerate(entries) if n // chunk_size in at_kill.done]
    ddb = await aws.client("dynamodb")
    for anime_id in finished_ids:
        await ddb.update_item(
            TableName=T_ENRICHED,
            Key={"anime_id": {"S": anime_id}},
            UpdateExpression="SET #m = :m",
            ExpressionAttributeNames={"#m": "_avs_test_mark"},
            ExpressionAttributeValues={":m": {"S": "before-kill"}},
        )
    ports = await open_ports(data_dir)  # the kernel released the killed process's shard lock
    index = await ports.ready_index()
    assert await index.set_payload(finished_ids, {"test_mark": "before-kill"}) == []

    report = await asyncio.wait_for(
        bootstrap(ports, str(source), chunk_size=chunk_size, executor="local"), timeout=120
    )

    assert report.job_id == job_id
    assert report.resumed_chunks == len(at_kill.done)
    final = await jobs.get(job_id)
    assert final is not None and final.finished
    items = await scan_table(T_ENRICHED)
    ids = [i["anime_id"]["S"] for i in items]
    assert len(ids) == len(set(ids)) == SYNTHETIC and set(ids) == {e.id for e in entries}
    assert {i["anime_id"]["S"] for i in items if "_avs_test_mark" in i} == set(finished_ids)
    assert await index.count(ANY) == SYNTHETIC
    points = await index.get([e.id for e in entries])
    assert len(points) == SYNTHETIC
    assert {p.id for p in points if p.payload.get("test_mark") == "before-kill"} == set(finished_ids)

    messages = await drain(Q_IMAGE_REQUESTED)
    expected = expected_image_event_ids(entries)
    assert len(expected) == sum(1 for e in entries if image_urls(e)) > SYNTHETIC // 2
    assert {m.event_id for m in messages} == expected
    # Only chunks in flight at the kill may have published twice (consumers deduplicate by id).
    counts = Counter(m.event_id for m in messages)
    republished = {str(m.payload["anime_id"]) for m in messages if m.payload and counts[m.event_id] > 1}
    assert not republished & set(finished_ids)


# ----------------------------------------------------------------------------- broken input


def _not_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()[:5000]


def _wrong_root(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc["data"]).encode()


def _one_invalid_entry(doc: dict[str, Any]) -> bytes:
    del doc["data"][37]["title"]
    return json.dumps(doc).encode()


def _duplicate_id(doc: dict[str, Any]) -> bytes:
    doc["data"].append({**doc["data"][5], "title": "A second entry with the same id"})
    return json.dumps(doc).encode()


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], bytes], list[str]]] = {
    "not-json": (_not_json, ["not JSON"]),
    "wrong-root": (_wrong_root, ["the root must be an object with a `data` list"]),
    "one-invalid-entry": (_one_invalid_entry, ["data[37] (id ", "title: Field required"]),
    "duplicate-id": (_duplicate_id, ["data[64]: duplicate id ", "(also data[5])"]),
}


async def assert_nothing_written(
    ports: IndexerPorts, scan_table: ScanTable, list_keys: ListKeys, drain: Drain
) -> None:
    assert await scan_table(T_ENRICHED) == []
    assert await scan_table(T_BULK_JOBS) == []
    assert await list_keys("processed/") == []
    assert await list_keys(BULK_PREFIX) == []
    assert await drain(Q_IMAGE_REQUESTED) == []
    assert await drain(Q_INDEXER_BULK_CHUNKS) == []


@pytest.mark.parametrize("case", list(BROKEN))
async def test_a_broken_file_stops_the_bootstrap_before_anything_is_written(
    case: str,
    ports: IndexerPorts,
    sample_file: Path,
    drain: Drain,
    scan_table: ScanTable,
    list_keys: ListKeys,
    tmp_path: Path,
) -> None:
    make, expected = BROKEN[case]
    broken = tmp_path / f"{case}.json"
    broken.write_bytes(make(_sample_doc(sample_file)))

    with pytest.raises(InvalidInputFile) as raised:
        await bootstrap(ports, str(broken), source_commit_sha="0123abcd", chunk_size=CHUNK, executor="local")

    message = str(raised.value)
    assert message.startswith(f"{broken} is not a valid enriched anime database (1 problem(s)); nothing")
    for fragment in expected:
        assert fragment in message
    assert raised.value.total == len(raised.value.problems) == 1
    await assert_nothing_written(ports, scan_table, list_keys, drain)


async def test_every_problem_of_a_file_is_reported_at_once(
    ports: IndexerPorts,
    sample_file: Path,
    drain: Drain,
    scan_table: ScanTable,
    list_keys: ListKeys,
    tmp_path: Path,
) -> None:
    doc = _sample_doc(sample_file)
    doc["data"][3]["type"] = "SERIES"
    doc["data"][60]["episodes"] = -1
    doc["data"].append(dict(doc["data"][0]))
    broken = tmp_path / "many.json"
    broken.write_bytes(json.dumps(doc).encode())

    with pytest.raises(InvalidInputFile) as raised:
        await bootstrap(ports, str(broken), chunk_size=CHUNK, executor="local")

    problems = raised.value.problems
    assert raised.value.total == 3
    assert problems[0].startswith(f"data[3] (id {doc['data'][3]['id']}): type:")
    assert problems[1].startswith(f"data[60] (id {doc['data'][60]['id']}): episodes:")
    assert problems[2] == f"data[64]: duplicate id {doc['data'][0]['id']} (also data[0])"
    await assert_nothing_written(ports, scan_table, list_keys, drain)


def _cli_env(moto_server: MotoServer, redis_server: RedisServer, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AVS_DATA_DIR": str(data_dir),
        "AWS_ENDPOINT_URL": moto_server.url,
        "AVS_REDIS_URL": redis_server.url,
        "AVS_WORKER_POLL_WAIT_SECONDS": "1",
        "HF_HUB_OFFLINE": "1",
    }


async def test_the_cli_refuses_a_broken_file_with_a_clear_message(
    ports: IndexerPorts,
    moto_server: MotoServer,
    redis_server: RedisServer,
    sample_file: Path,
    drain: Drain,
    scan_table: ScanTable,
    list_keys: ListKeys,
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_bytes(_one_invalid_entry(_sample_doc(sample_file)))

    done = await asyncio.to_thread(
        subprocess.run,
        [str(AVS), "bootstrap", "--file", str(broken), "--workers", "local"],
        env=_cli_env(moto_server, redis_server, tmp_path / "cli-data"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Error: {broken} is not a valid enriched anime database (1 problem(s)); nothing was written" in (
        done.stderr
    )
    assert "Fix the file and run the command again" in done.stderr
    assert "data[37] (id " in done.stderr and "title: Field required" in done.stderr
    assert "Traceback" not in done.stderr
    await assert_nothing_written(ports, scan_table, list_keys, drain)
