"""What only the edge adapter has: a directory, a lock, persistence across processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from vector_dataset import DIM, MODEL, anime_id, build_points, search_pool

from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.adapters.vector.edge_codec import translate
from avs_shared.adapters.vector.model import ANIME_PAYLOAD_INDEXES
from avs_shared.errors import Conflict, NotFound, Permanent, Retryable
from avs_shared.ports.vector import (
    DenseQuery,
    HybridQuery,
    Match,
    OrderBy,
    SearchFilter,
    SparseQuery,
    StatusScope,
)

ANY = SearchFilter(status=StatusScope.ANY)


async def test_reopen_sees_writes_indexes_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "qdrant-edge" / "anime"
    points = build_points()
    index = EdgeVectorIndex(path)
    await index.ensure_collection(MODEL, DIM)
    await index.upsert(points)
    await index.set_payload([anime_id("aot")], {"system_status": "ORPHANED"})
    await index.delete([points[0].id])
    before = {
        "count": await index.count(ANY),
        "facets": await index.facets("genres"),
        "page": await index.scroll(order_by=OrderBy("popularity"), limit=12),
        "sparse": await index.search(SparseQuery(text="Demon Slayer"), limit=3),
    }
    await index.close()

    assert json.loads((path / "collection.json").read_text()) == {
        "dimension": DIM,
        "embedding_model": MODEL,
        "sparse_encoder": "avs-bm25-v1;k1=1.2;b=0.75;avg_len=60",
    }
    reopened = EdgeVectorIndex(path)
    await reopened.ensure_collection(MODEL, DIM)
    try:
        assert before == {
            "count": await reopened.count(ANY),
            "facets": await reopened.facets("genres"),
            "page": await reopened.scroll(order_by=OrderBy("popularity"), limit=12),
            "sparse": await reopened.search(SparseQuery(text="Demon Slayer"), limit=3),
        }
        assert before["count"] == len(points) - 1
        assert (await reopened.get([anime_id("aot")]))[0].payload["system_status"] == "ORPHANED"
        with pytest.raises(Conflict, match=MODEL):
            await reopened.ensure_collection("other-model", DIM)
    finally:
        await reopened.close()


async def test_payload_indexes_add_no_links_to_the_vector_graphs(tmp_path: Path) -> None:
    """Every filter field is indexed, without per-value HNSW links (see ``edge_codec.index_schema``)."""
    index = EdgeVectorIndex(tmp_path / "anime")
    await index.ensure_collection(MODEL, DIM)
    try:
        schema = index._open_shard().info().payload_schema
        assert set(schema) == set(ANIME_PAYLOAD_INDEXES)
        links = {name: info.params.enable_hnsw for name, info in schema.items()}
        assert links == dict.fromkeys(schema, False)
    finally:
        await index.close()


async def test_acknowledged_writes_survive_a_crash_without_close(tmp_path: Path) -> None:
    path = tmp_path / "anime"
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from vector_dataset import build_points, DIM, MODEL
        from avs_shared.adapters.vector.edge import EdgeVectorIndex

        async def main():
            index = EdgeVectorIndex({str(path)!r})
            await index.ensure_collection(MODEL, DIM)
            await index.upsert(build_points()[:10])
            await index.set_payload([build_points()[0].id], {{"title": "after crash"}})
            os._exit(0)  # no close(), no flush()

        asyncio.run(main())
        """
    )
    await asyncio.to_thread(subprocess.run, [sys.executable, "-c", script], check=True, timeout=120)
    index = EdgeVectorIndex(path)  # the dead process's flock is gone with it
    await index.ensure_collection(MODEL, DIM)
    try:
        assert await index.count(ANY) == 10
        assert (await index.get([build_points()[0].id]))[0].payload["title"] == "after crash"
    finally:
        await index.close()


async def test_only_one_owner_and_the_error_names_its_pid(tmp_path: Path) -> None:
    path = tmp_path / "anime"
    owner = EdgeVectorIndex(path)
    await owner.ensure_collection(MODEL, DIM)
    second = EdgeVectorIndex(path)
    with pytest.raises(Conflict, match=f"pid {os.getpid()}"):
        await second.ensure_collection(MODEL, DIM)

    script = textwrap.dedent(
        f"""
        import asyncio
        from avs_shared.adapters.vector.edge import EdgeVectorIndex
        from avs_shared.errors import Conflict
        try:
            asyncio.run(EdgeVectorIndex({str(path)!r}).ensure_collection("m", 4))
        except Conflict as exc:
            print(exc)
        """
    )
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"pid {os.getpid()}" in out.stdout

    await owner.close()
    await second.ensure_collection(MODEL, DIM)  # free once the owner closes
    await second.close()


async def test_optimize_keeps_every_answer(tmp_path: Path) -> None:
    points = build_points()
    index = EdgeVectorIndex(tmp_path / "anime")
    await index.ensure_collection(MODEL, DIM)
    await index.upsert(points)
    await index.upsert(points[:20])  # replaced points leave deleted copies behind
    queries = [
        DenseQuery(points[3].vectors["text"]),
        SparseQuery(text="Silent Knight no 巨人"),
        HybridQuery(dense=[DenseQuery(points[4].vectors["tags"], "tags")], sparse=SparseQuery(text="鬼滅")),
    ]
    f = SearchFilter(must=[Match("genres", "Drama")])

    async def answers() -> list[object]:
        return [
            *[await index.search(q, filter=f, limit=8) for q in queries],
            await index.count(f),
            await index.facets("year", filter=f),
            await index.scroll(order_by=OrderBy("score"), filter=f, limit=50),
        ]

    before = await answers()
    await index.optimize()
    after = await answers()
    try:
        assert [_rounded(x) for x in after] == [_rounded(x) for x in before]
    finally:
        await index.close()


def _rounded(answer: object) -> object:
    if isinstance(answer, list) and answer and hasattr(answer[0], "score"):
        return [(h.id, round(h.score, 4)) for h in answer]
    return answer


def test_engine_errors_map_onto_the_error_family() -> None:
    assert isinstance(translate(Exception("No point with id 1 found"), "set_payload"), NotFound)
    assert isinstance(
        translate(Exception("Vector dimension error: expected dim: 2, got 3"), "upsert"), Permanent
    )
    assert isinstance(translate(ValueError("failed to parse x as UUID"), "upsert"), Permanent)
    wal = translate(
        Exception("Service runtime error: failed to open WAL: Can't init WAL: Kind(WouldBlock)"), "open"
    )
    assert isinstance(wal, Conflict)
    assert isinstance(translate(OSError("disk full"), "upsert"), Retryable)


async def test_segment_idf_skips_counting_live_points_and_keeps_the_ranking(tmp_path: Path) -> None:
    """``segment_idf`` weighs terms by what the segments hold, deleted points included;
    the default counts the live points. The names probe of hybrid search relies on the
    two ranking the same candidates first."""
    index = EdgeVectorIndex(tmp_path / "anime")
    await index.ensure_collection(MODEL, DIM)
    points = build_points()
    try:
        await index.upsert(points)
        live, segment = SparseQuery(text="Demon Slayer"), SparseQuery(text="Demon Slayer", segment_idf=True)
        fresh = await index.search(live, filter=ANY, limit=3)
        assert fresh == await index.search(segment, filter=ANY, limit=3)
        await index.delete([p.id for p in points[:40] if p.id not in {h.id for h in fresh}])
        after_live = await index.search(live, filter=ANY, limit=3)
        after_segment = await index.search(segment, filter=ANY, limit=3)
        assert [h.id for h in after_live] == [h.id for h in after_segment] == [h.id for h in fresh]
        # Fewer live documents, same term counts in the segment: the live IDF drops.
        assert after_segment[0].score == pytest.approx(fresh[0].score)
        assert after_live[0].score < fresh[0].score
    finally:
        await index.close()


async def test_the_search_pool_has_the_threads_asked_for_one_by_default(tmp_path: Path) -> None:
    path = tmp_path / "c"
    for threads, expected in ((None, 1), (3, 3), (1, 1)):  # None would keep the shard's setting
        before = len(search_pool())  # other tests' open shards, if any
        index = EdgeVectorIndex(path) if threads is None else EdgeVectorIndex(path, search_threads=threads)
        await index.ensure_collection(MODEL, DIM)
        try:
            await index.upsert(build_points()[:4])
            assert len(await index.search(DenseQuery([1.0] * DIM), filter=ANY, limit=2)) == 2
            assert len(search_pool()) - before == expected, threads
            config = json.loads((path / "shard" / "edge_config.json").read_text())
            assert config["max_search_threads"] == expected
        finally:
            await index.close()
    with pytest.raises(ValueError, match="search_threads"):
        EdgeVectorIndex(path, search_threads=0)
