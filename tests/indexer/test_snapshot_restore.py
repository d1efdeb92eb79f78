"""Snapshots and restores (same entries, same search results on a fresh stack) and re-indexing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from avs_indexer.bulk import bootstrap, parse_enriched
from avs_indexer.ports import IndexerPorts
from avs_indexer.snapshot import create_snapshot, reindex, restore
from avs_shared.adapters.embedding import MODEL_NAME
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.embedded.processes import MotoServer
from avs_shared.errors import Conflict
from avs_shared.events import Envelope
from avs_shared.ports.vector import (
    DenseQuery,
    Match,
    OrderBy,
    SearchFilter,
    SparseQuery,
    StatusScope,
    VectorPoint,
)
from avs_shared.schema import AnimeEntry, EnrichedDatabase
from avs_shared.topology import BUCKET, Q_IMAGE_REQUESTED, SNAPSHOT_KEY, SOURCE_COMMIT_METADATA, T_ENRICHED

Drain = Callable[[str], Awaitable[list[Envelope]]]
ScanTable = Callable[[str], Awaitable[list[dict[str, Any]]]]
OpenPorts = Callable[[Path], Awaitable[IndexerPorts]]

ANY = SearchFilter(status=StatusScope.ANY)
DEATH_NOTE_PLOT = "a student finds a notebook that kills anyone whose name is written in it"
# Queries whose right answer leads the next one by more than twice the model's noise (below).
PLOTS = {
    "a withdrawn boy pilots a giant robot against monstrous angels": "Shinseiki Evangelion",
    DEATH_NOTE_PLOT: "Death Note",
    "a girl works in a bathhouse for spirits to save her parents": "Sen to Chihiro no Kamikakushi",
    "two brothers use alchemy to get their bodies back": "Hagane no Renkinjutsushi: Fullmetal Alchemist",
}
TITLES = ["Cowboy Bebop", "進撃の巨人", "Gundam", "Frieren", "Kimi no Na wa"]


# The int8 model quantises activations per batch, so a re-embedded text's vector differs
# slightly with the texts it was batched with (cosine > 0.98): dense scores may move
# by about 0.02 after a restore, and hits closer than that may swap. Everything else
# (titles, filters, orderings) must come back exactly.
SCORE_NOISE = 0.05


async def search_results(ports: IndexerPorts) -> dict[str, list[str]]:
    """The ids (in order) that a set of sparse and structured reads return."""
    index = ports.index
    results: dict[str, list[str]] = {}
    for query in TITLES:
        results[f"sparse:{query}"] = [h.id for h in await index.search(SparseQuery(text=query), limit=5)]
    page = await index.scroll(order_by=OrderBy("popularity"), limit=64)
    results["popularity"] = [h.id for h in page.hits]
    madhouse = SearchFilter(must=[Match("studios", "Madhouse")])
    page = await index.scroll(order_by=OrderBy("score"), filter=madhouse, limit=64)
    results["madhouse-by-score"] = [h.id for h in page.hits]
    return results


async def dense_rankings(ports: IndexerPorts) -> dict[str, list[tuple[str, float]]]:
    """Every point ranked for each plot query, with its score."""
    vectors = await ports.embedder.embed(list(PLOTS))
    return {
        query: [(h.id, h.score) for h in await ports.index.search(DenseQuery(vector.tolist()), limit=64)]
        for query, vector in zip(PLOTS, vectors, strict=True)
    }


def assert_same_ranking(before: list[tuple[str, float]], after: list[tuple[str, float]]) -> None:
    """Same hits, same scores up to the model's noise, same order except among near-ties."""
    assert after[0][0] == before[0][0]
    score_before, score_after = dict(before), dict(after)
    assert score_after.keys() == score_before.keys()
    for anime_id, score in score_before.items():
        assert abs(score_after[anime_id] - score) < SCORE_NOISE, anime_id
    position = {anime_id: n for n, (anime_id, _) in enumerate(after)}
    for n, (higher, high) in enumerate(before):
        for lower, low in before[n + 1 :]:
            if high - low > SCORE_NOISE:
                assert position[higher] < position[lower], (higher, lower)


async def all_entries(ports: IndexerPorts) -> dict[str, dict[str, Any]]:
    return {e.id: e.to_json_dict() async for e in ports.entries.scan()}


async def test_a_snapshot_restores_the_same_entries_and_search_results_on_a_fresh_stack(
    ports: IndexerPorts,
    provisioned: Provisioner,
    moto_server: MotoServer,
    open_ports: OpenPorts,
    sample_file: Path,
    sample_by_title: dict[str, AnimeEntry],
    drain: Drain,
    scan_table: ScanTable,
    tmp_path: Path,
) -> None:
    await bootstrap(ports, str(sample_file), source_commit_sha="feedc0de", chunk_size=16, executor="local")
    entries = await all_entries(ports)
    results = await search_results(ports)
    rankings = await dense_rankings(ports)
    assert len(entries) == 64
    # The searches find what they should, so "identical" below compares meaningful results.
    for query, title in PLOTS.items():
        assert rankings[query][0][0] == sample_by_title[title].id, query
    assert results["sparse:進撃の巨人"][0] == sample_by_title["Shingeki no Kyojin"].id
    madhouse = {
        e.id for e in sample_by_title.values() if "Madhouse" in [s.name for s in e.staff_data.studios]
    }
    assert len(results["popularity"]) == 64 and set(results["madhouse-by-score"]) == madhouse

    report = await create_snapshot(ports)

    assert (report.key, report.entries, report.parts) == (SNAPSHOT_KEY, 64, 1)
    assert report.metadata[SOURCE_COMMIT_METADATA] == "feedc0de"
    s3 = await ports.aws.client("s3")
    head = await s3.head_object(Bucket=BUCKET, Key=SNAPSHOT_KEY)
    assert head["ETag"].endswith(f'-{report.parts}"'), "not a multipart upload"
    assert head["ContentLength"] == report.bytes
    assert head["Metadata"][SOURCE_COMMIT_METADATA] == "feedc0de"
    assert "content-sha256" not in head["Metadata"]  # described the bootstrap file, not this one
    body = (await ports.objects.get(SNAPSHOT_KEY)).body
    doc = json.loads(body)
    assert doc["enrichmentInfo"]["sourceCommitSha"] == "feedc0de"
    assert EnrichedDatabase.from_json_dict(doc).data[0].id in entries
    assert {e["id"]: e for e in parse_enriched(body, "snapshot").entries} == entries
    saved = tmp_path / "snapshot.json"
    saved.write_bytes(body)

    for stack, source in enumerate((str(saved), f"s3://{BUCKET}/{SNAPSHOT_KEY}")):
        moto_server.reset()  # a fresh stack: empty AWS and a new edge shard
        await provisioned.provision()
        assert await scan_table(T_ENRICHED) == []
        fresh = await open_ports(tmp_path / f"fresh-stack-{stack}")
        if source.startswith("s3://"):
            await fresh.objects.put(SNAPSHOT_KEY, body, content_type="application/json")

        restored = await restore(fresh, source, chunk_size=16, executor="local")

        assert (restored.kind, restored.entries, restored.chunks, restored.resumed_chunks) == (
            "restore",
            64,
            4,
            0,
        )
        assert await all_entries(fresh) == entries, source
        assert await fresh.index.count(ANY) == 64
        assert await search_results(fresh) == results, source
        restored_rankings = await dense_rankings(fresh)
        for query, ranking in rankings.items():
            assert_same_ranking(ranking, restored_rankings[query])
        assert await drain(Q_IMAGE_REQUESTED) == []  # a snapshot holds our CDN URLs already


async def test_an_index_of_another_model_is_refused_until_it_is_reindexed(
    ports: IndexerPorts, sample_entries: list[AnimeEntry], sample_by_title: dict[str, AnimeEntry]
) -> None:
    entries = sample_entries[:24]  # Death Note among them
    await ports.entries.batch_put(entries)
    shard_dir = ports.settings.data_dir / "qdrant-edge" / "anime"
    stray = "00000000-0000-4000-8000-000000000001"
    other = EdgeVectorIndex(shard_dir)
    await other.ensure_collection("other-model", 384)
    unit = [1.0] + [0.0] * 383
    await other.upsert([VectorPoint(id=stray, vectors={"text": unit, "tags": unit}, payload={"title": "x"})])
    await other.close()

    with pytest.raises(Conflict, match=r"built with model 'other-model'.*uses '" + MODEL_NAME):
        await ports.ready_index()
    meta = json.loads((shard_dir / "collection.json").read_text(encoding="utf-8"))
    assert meta["embedding_model"] == "other-model"  # refused, not changed

    reindexed = await reindex(ports)

    assert reindexed == len(entries) == 24
    index = await ports.ready_index()
    assert await index.count(ANY) == 24
    assert sorted(p.id for p in await index.get([e.id for e in entries])) == sorted(e.id for e in entries)
    assert await index.get([stray]) == []
    meta = json.loads((shard_dir / "collection.json").read_text(encoding="utf-8"))
    assert (meta["embedding_model"], meta["dimension"]) == (MODEL_NAME, 384)
    [vector] = await ports.embedder.embed([DEATH_NOTE_PLOT])
    hits = await index.search(DenseQuery(vector.tolist()), limit=1)
    assert hits[0].id == sample_by_title["Death Note"].id
    assert hits[0].payload is not None and hits[0].payload["title"] == "Death Note"
