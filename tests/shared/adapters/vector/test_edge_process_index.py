"""What only ``EdgeProcessIndex`` has: a worker process, its lifecycle and its failures.

The port's semantics are the congruence suite's (``edge-process`` is one of its
adapters); here the worker is started, killed, stopped and signalled for real, and
the shard it owns is checked from this process with an ``EdgeVectorIndex``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from child_processes import PATIENCE_S, orphan_worker, proc_file, proc_stat, running, until
from vector_dataset import DIM, MODEL, anime_id, build_points, search_pool

from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.adapters.vector.edge_process import (
    PICKLE_PROTOCOL,
    PICKLED_BY_CONSTRUCTOR,
    EdgeProcessIndex,
    RemoteError,
    WorkerGone,
)
from avs_shared.errors import ConfigurationError, Retryable
from avs_shared.ports.vector import (
    Clause,
    DenseQuery,
    FacetCount,
    HasId,
    Hit,
    HybridQuery,
    IndexHealth,
    IndexOwnedElsewhere,
    IsEmpty,
    Match,
    MatchAny,
    MatchText,
    OrderBy,
    Page,
    Range,
    Search,
    SearchFilter,
    SimilarTo,
    SparseQuery,
    SparseVector,
    StatusScope,
    VectorPoint,
)
from avs_shared.runtime.components import vector_index_from_settings
from avs_shared.settings import ServiceSettings

ANY = SearchFilter(status=StatusScope.ANY)
T = TypeVar("T")


def _entries(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def _kill(pid: int | None) -> None:
    """Make sure a worker a test stopped or abandoned does not outlive it."""
    if pid is None:
        return
    for sig in (signal.SIGCONT, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "qdrant-edge" / "anime"


@pytest.fixture
async def process_index(path: Path) -> AsyncIterator[EdgeProcessIndex]:
    """An ``EdgeProcessIndex`` on ``path``, not yet opened; its worker is gone after the test."""
    index = EdgeProcessIndex(path)
    try:
        yield index
    finally:
        pid = index.pid
        with contextlib.suppress(ProcessLookupError):
            if pid is not None:
                os.kill(pid, signal.SIGCONT)  # a test that failed while its worker was stopped
        await index.close()
        if pid is not None and running(pid):
            _kill(pid)
            raise AssertionError(f"close() left the worker pid {pid} running")


async def test_the_worker_starts_on_the_first_call(
    process_index: EdgeProcessIndex, tmp_path: Path, path: Path
) -> None:
    assert process_index.pid is None
    assert _entries(tmp_path) == []  # construction does no I/O at all: not even the directory

    await process_index.ensure_collection(MODEL, DIM)

    pid = process_index.pid
    assert pid is not None and pid != os.getpid()
    assert running(pid)
    assert int(proc_stat(pid)[1]) == os.getpid()  # a child of this process
    assert "avs_shared.adapters.vector.edge_worker" in proc_file(pid, "cmdline").split("\0")
    assert (path / "LOCK").read_text() == str(pid)  # the worker owns the shard, not this process


async def test_an_in_process_index_cannot_take_the_workers_shard(
    process_index: EdgeProcessIndex, path: Path
) -> None:
    await process_index.ensure_collection(MODEL, DIM)
    intruder = EdgeVectorIndex(path)
    try:
        with pytest.raises(IndexOwnedElsewhere, match=f"pid {process_index.pid}\\b"):
            await intruder.ensure_collection(MODEL, DIM)
    finally:
        await intruder.close()


async def test_the_worker_cannot_take_a_shard_owned_here(process_index: EdgeProcessIndex, path: Path) -> None:
    owner = EdgeVectorIndex(path)
    await owner.ensure_collection(MODEL, DIM)
    try:
        # Raised in the worker, pickled, and raised here as itself.
        with pytest.raises(IndexOwnedElsewhere, match=f"pid {os.getpid()}\\b"):
            await process_index.ensure_collection(MODEL, DIM)
        pid = process_index.pid
        assert pid is not None  # the worker survives a failed call
    finally:
        await owner.close()
    await process_index.ensure_collection(MODEL, DIM)  # free once the owner closes
    assert process_index.pid == pid
    assert (path / "LOCK").read_text() == str(pid)


async def test_close_flushes_and_ends_the_worker(process_index: EdgeProcessIndex, path: Path) -> None:
    points = build_points()
    await process_index.ensure_collection(MODEL, DIM)
    await process_index.upsert(points)
    pid, proc = process_index.pid, process_index.worker.process
    assert pid is not None and proc is not None

    await process_index.close()

    assert process_index.pid is None
    assert proc.returncode == 0  # it exited by itself, not killed after the stop timeout
    assert not running(pid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # exited and reaped
    reopened = EdgeVectorIndex(path)
    await reopened.ensure_collection(MODEL, DIM)
    try:
        assert await reopened.count(ANY) == len(points)
    finally:
        await reopened.close()


async def test_a_killed_worker_is_replaced_with_the_collection_open(process_index: EdgeProcessIndex) -> None:
    points = build_points()
    await process_index.ensure_collection(MODEL, DIM)
    await process_index.upsert(points)
    pid = process_index.pid
    assert pid is not None

    os.kill(pid, signal.SIGKILL)  # no close, no flush: only the WAL has the points
    await until(lambda: process_index.pid is None, "the parent notices its worker died")

    # No ensure_collection here: the successor opens the collection by itself.
    assert await process_index.count(ANY) == len(points)
    successor = process_index.pid
    assert successor is not None and successor != pid
    hits = await process_index.search(DenseQuery(points[3].vectors["text"]), filter=ANY, limit=1)
    assert [hit.id for hit in hits] == [points[3].id]


async def test_a_successor_that_cannot_take_the_shard_is_not_kept(
    process_index: EdgeProcessIndex, path: Path
) -> None:
    points = build_points()
    await process_index.ensure_collection(MODEL, DIM)
    await process_index.upsert(points)
    pid = process_index.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await until(lambda: process_index.pid is None, "the parent notices its worker died")

    squatter = EdgeVectorIndex(path)  # takes the LOCK before a successor can
    await squatter.ensure_collection(MODEL, DIM)
    try:
        with pytest.raises(IndexOwnedElsewhere, match=str(os.getpid())):
            await process_index.count(ANY)
        assert process_index.pid is None  # the successor that failed to open it was stopped
    finally:
        await squatter.close()

    assert await process_index.count(ANY) == len(points)  # the next call starts one that can


async def test_a_call_in_flight_when_the_worker_dies_is_retryable(process_index: EdgeProcessIndex) -> None:
    points = build_points()[:8]
    await process_index.ensure_collection(MODEL, DIM)
    await process_index.upsert(points)
    pid = process_index.pid
    assert pid is not None

    os.kill(pid, signal.SIGSTOP)
    try:
        call = asyncio.create_task(process_index.count(ANY))
        await until(lambda: process_index.worker.pending, "the call is sent")
        await asyncio.sleep(0.1)
        assert not call.done()  # a stopped worker cannot have answered
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(Retryable) as caught:
            await call
    finally:
        _kill(pid)

    assert isinstance(caught.value, WorkerGone)
    assert f"pid {pid}" in str(caught.value)
    assert caught.value.retry_after_s > 0  # the API's Retry-After
    health = await process_index.health()
    assert health.ok, health.detail
    assert health.points == len(points)
    assert process_index.pid not in {None, pid}


def _owner_script(path: Path, *, then: str) -> str:
    """A child process that opens ``path`` through a worker, writes 10 points, prints the
    worker's pid, then runs ``then`` (one statement)."""
    return textwrap.dedent(
        f"""
        import asyncio, os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from vector_dataset import build_points, DIM, MODEL
        from avs_shared.adapters.vector.edge_process import EdgeProcessIndex

        async def main():
            index = EdgeProcessIndex({str(path)!r})
            await index.ensure_collection(MODEL, DIM)
            await index.upsert(build_points()[:10])
            print(index.pid, flush=True)
            {then}

        asyncio.run(main())
        """
    )


async def test_a_worker_whose_parent_dies_exits_and_frees_the_shard(tmp_path: Path, path: Path) -> None:
    # no close(): the worker is left with its stdin's end of file
    script = _owner_script(path, then="os._exit(0)")
    pid = await orphan_worker(script, tmp_path)
    try:
        await until(lambda: not running(pid), f"the orphaned worker pid {pid} exits")
    finally:
        _kill(pid)
    index = EdgeVectorIndex(path)  # the LOCK went with the worker
    await index.ensure_collection(MODEL, DIM)
    try:
        assert await index.count(ANY) == 10
    finally:
        await index.close()


async def test_opening_waits_for_a_worker_still_closing_after_its_parent_was_killed(
    tmp_path: Path, path: Path
) -> None:
    """A rerun right after a kill (the bootstrap's resume, say) must not find the shard taken
    by the killed process's worker, which is still flushing it."""
    script = _owner_script(path, then="sys.stdin.read()")  # until killed
    with (tmp_path / "child.stderr").open("wb") as stderr:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
        )
    assert child.stdout is not None
    pid = int(await asyncio.wait_for(child.stdout.readline(), timeout=120))
    index = EdgeVectorIndex(path)
    try:
        os.kill(pid, signal.SIGSTOP)  # the worker has not closed the shard yet when ...
        child.kill()  # ... its parent is killed
        await child.wait()
        opening = asyncio.create_task(index.ensure_collection(MODEL, DIM))
        await asyncio.sleep(0.5)
        assert not opening.done()  # waiting for the worker, not failing on its LOCK
        os.kill(pid, signal.SIGCONT)
        await asyncio.wait_for(opening, timeout=PATIENCE_S)
        assert await index.count(ANY) == 10
        assert not running(pid)
    finally:
        _kill(pid)
        await index.close()


@pytest.mark.parametrize("method", ["__class__", "_open_shard", "__init__"])
async def test_only_the_ports_methods_can_be_called(
    process_index: EdgeProcessIndex, tmp_path: Path, method: str
) -> None:
    points = build_points()[:5]
    await process_index.ensure_collection(MODEL, DIM)
    await process_index.upsert(points)
    pid = process_index.pid

    with pytest.raises(RemoteError, match=re.escape(repr(method))):
        # __init__ once more would swap the worker's index for one elsewhere
        await process_index._call(method, str(tmp_path / "elsewhere"))

    assert await process_index.count(ANY) == len(points)
    assert process_index.pid == pid
    assert not (tmp_path / "elsewhere").exists()


async def test_the_worker_ignores_sigint(process_index: EdgeProcessIndex) -> None:
    points = build_points()[:5]
    await process_index.ensure_collection(MODEL, DIM)
    await process_index.upsert(points)
    pid = process_index.pid
    assert pid is not None
    # A session of its own: a terminal's Ctrl-C goes to this process's group only.
    assert os.getsid(pid) == pid != os.getsid(0)
    ignored = int(re.findall(r"^SigIgn:\s*([0-9a-f]+)$", proc_file(pid, "status"), re.M)[0], 16)
    assert ignored & (1 << (signal.SIGINT - 1))

    os.kill(pid, signal.SIGINT)

    assert await process_index.count(ANY) == len(points)
    assert process_index.pid == pid and running(pid)


async def test_sigterm_closes_the_worker_cleanly(process_index: EdgeProcessIndex) -> None:
    points = build_points()
    await process_index.ensure_collection(MODEL, DIM)
    await process_index.upsert(points)
    pid, proc = process_index.pid, process_index.worker.process
    assert pid is not None and proc is not None

    os.kill(pid, signal.SIGTERM)
    await until(lambda: proc.returncode is not None, "the worker exits on SIGTERM")

    assert proc.returncode == 0
    assert await process_index.count(ANY) == len(points)
    assert process_index.pid not in {None, pid}


async def test_settings_choose_the_worker_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AVS_QDRANT_URL", "QDRANT_URL", "AVS_EDGE_INDEX_PROCESS"):
        monkeypatch.delenv(name, raising=False)
    lock = tmp_path / "qdrant-edge" / "anime" / "LOCK"

    in_worker = vector_index_from_settings(ServiceSettings(data_dir=tmp_path))  # the default
    assert isinstance(in_worker, EdgeProcessIndex)
    try:
        await in_worker.ensure_collection(MODEL, DIM)
        assert lock.read_text() == str(in_worker.pid)
    finally:
        await in_worker.close()

    in_process = vector_index_from_settings(ServiceSettings(data_dir=tmp_path, edge_index_process=False))
    assert isinstance(in_process, EdgeVectorIndex)
    try:
        await in_process.ensure_collection(MODEL, DIM)
        assert lock.read_text() == str(os.getpid())
    finally:
        await in_process.close()

    monkeypatch.setenv("AVS_EDGE_INDEX_PROCESS", "false")
    from_env = vector_index_from_settings(ServiceSettings(data_dir=tmp_path))
    assert isinstance(from_env, EdgeVectorIndex)
    await from_env.close()  # never opened: nothing to release


async def test_the_workers_search_pool_size_comes_from_settings(tmp_path: Path) -> None:
    index = vector_index_from_settings(ServiceSettings(data_dir=tmp_path, edge_search_threads=2))
    assert isinstance(index, EdgeProcessIndex)
    try:
        await index.ensure_collection(MODEL, DIM)
        assert index.pid is not None and len(search_pool(index.pid)) == 2
    finally:
        await index.close()
    before = len(search_pool())  # other tests' open shards, if any
    default = vector_index_from_settings(ServiceSettings(data_dir=tmp_path, edge_index_process=False))
    try:
        await default.ensure_collection(MODEL, DIM)
        assert len(search_pool()) - before == 1
    finally:
        await default.close()


def test_an_index_serves_one_event_loop_at_a_time(path: Path) -> None:
    """The worker's pipes belong to the loop that started it: another loop gets a clear
    error while it runs, and the index once closed serves a new loop."""
    index = EdgeProcessIndex(path)
    points = build_points()
    first = asyncio.new_event_loop()
    runner = threading.Thread(target=first.run_forever, daemon=True)
    runner.start()

    def on_first(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, first).result(timeout=120)

    async def open_and_fill() -> None:
        await index.ensure_collection(MODEL, DIM)
        await index.upsert(points)

    async def reopen_and_count() -> int:
        try:
            await index.ensure_collection(MODEL, DIM)
            return await index.count(ANY)
        finally:
            await index.close()

    try:
        on_first(open_and_fill())
        pid = index.pid
        with pytest.raises(ConfigurationError, match="one EdgeProcessIndex per event loop"):
            asyncio.run(index.count(ANY))
        assert index.pid == pid  # the first loop's worker is left alone, still serving it
        assert on_first(index.count(ANY)) == len(points)
        on_first(index.close())
    finally:
        first.call_soon_threadsafe(first.stop)
        runner.join(timeout=30)
        first.close()
    assert asyncio.run(reopen_and_count()) == len(points)


def test_the_ports_values_cross_the_pipe_as_their_constructors_arguments() -> None:
    """Every dataclass of the port pickles through its constructor (cheaper than slot state,
    and a value the constructor would refuse fails on the way)."""
    sparse = SparseVector([1, 7], [0.5, 1.0])
    hit = Hit(anime_id(1), 0.5, {"title": "x"})
    flt = SearchFilter(
        must=[Match("type", "TV"), MatchAny("genres", ["Action"]), Range("year", gte=2000, lt=2010)],
        should=[MatchText("title", "robot"), Clause(must=[IsEmpty("rating")])],
        must_not=[HasId([anime_id(2)])],
        status=StatusScope.ANY,
    )
    hybrid = HybridQuery(dense=[DenseQuery([0.1, 0.2], "tags")], sparse=SparseQuery(vector=sparse), rrf_k=5)
    samples = [
        sparse,
        VectorPoint(anime_id(3), {"text": [0.1]}, {"bm25": sparse}, {"title": "y"}),
        *flt.must,
        *flt.should,
        *flt.must_not,
        IsEmpty("rating"),
        flt,
        hybrid,
        *hybrid.dense,
        SparseQuery(text="robot", segment_idf=True),
        SimilarTo(anime_id(4), "tags"),
        OrderBy("score", "asc"),
        hit,
        Page([hit], "cursor"),
        FacetCount("Action", 3),
        IndexHealth(True, "qdrant-edge", 10, "fine"),
        Search(hybrid, filter=flt, limit=5, offset=1, score_threshold=0.1, with_payload=["title"]),
    ]
    assert {type(s) for s in samples} == set(PICKLED_BY_CONSTRUCTOR)
    for value in samples:
        reducer = copyreg.dispatch_table[type(value)]
        assert reducer(value)[0] is type(value)
        assert pickle.loads(pickle.dumps(value, protocol=PICKLE_PROTOCOL)) == value
