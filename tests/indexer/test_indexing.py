"""``IndexWriter``: the embed/write pipeline over the real stores and the real model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from avs_indexer.documents import entry_payload
from avs_indexer.indexing import IndexWriter
from avs_indexer.ports import IndexerPorts
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.errors import ConfigurationError
from avs_shared.ports.embedding import Embedder
from avs_shared.ports.vector import SearchFilter, StatusScope
from avs_shared.schema import AnimeEntry
from avs_shared.topology import T_ENRICHED

ScanTable = Callable[[str], Awaitable[list[dict[str, Any]]]]
ANY = SearchFilter(status=StatusScope.ANY)


class FailingEmbedder:
    """The real model, except that call number ``fail_on`` raises."""

    def __init__(self, inner: Embedder, fail_on: int) -> None:
        self._inner = inner
        self._fail_on = fail_on
        self.calls = 0
        self.model_name = inner.model_name
        self.dimension = inner.dimension

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += 1
        if self.calls == self._fail_on:
            raise RuntimeError("the model ran out of memory")
        return await self._inner.embed(texts)


async def test_the_writer_stores_every_entry_and_its_vectors_in_batches(
    ports: IndexerPorts, sample_entries: list[AnimeEntry], scan_table: ScanTable
) -> None:
    entries = sample_entries[:12]
    index = await ports.ready_index()
    writer = IndexWriter(entries=ports.entries, index=index, embedder=ports.embedder, batch_size=5)
    sizes: list[int] = []

    stats = await writer.write(entries, on_batch=sizes.append)

    assert (stats.entries, stats.batches, sizes) == (12, 3, [5, 5, 2])
    items = await scan_table(T_ENRICHED)
    assert sorted(i["anime_id"]["S"] for i in items) == sorted(e.id for e in entries)
    stored = {e.id: e async for e in ports.entries.scan()}
    assert all(stored[e.id].synopsis == e.synopsis for e in entries)
    points = await index.get([e.id for e in entries], with_vectors=True)
    assert [p.id for p in points] == [e.id for e in entries]
    for entry, point in zip(entries, points, strict=True):
        assert dict(point.payload) == entry_payload(entry)
        assert set(point.vectors) == {"text", "tags"} and len(point.vectors["text"]) == 384
        assert set(point.sparse) == {"bm25"}


async def test_the_writer_reads_an_async_stream_and_can_write_vectors_only(
    ports: IndexerPorts, sample_entries: list[AnimeEntry], scan_table: ScanTable
) -> None:
    entries = sample_entries[20:27]

    async def stream() -> AsyncIterator[AnimeEntry]:
        for entry in entries:
            await asyncio.sleep(0)
            yield entry

    index = await ports.ready_index()
    writer = IndexWriter(
        entries=ports.entries, index=index, embedder=ports.embedder, batch_size=3, write_entries=False
    )

    stats = await writer.write(stream())

    assert (stats.entries, stats.batches) == (7, 3)
    assert await scan_table(T_ENRICHED) == []
    assert await index.count(ANY) == 7


async def test_an_embedding_failure_stops_the_load_and_keeps_what_was_written(
    ports: IndexerPorts, sample_entries: list[AnimeEntry], scan_table: ScanTable
) -> None:
    entries = sample_entries[:12]
    index = await ports.ready_index()
    embedder = FailingEmbedder(ports.embedder, fail_on=3)
    writer = IndexWriter(entries=ports.entries, index=index, embedder=embedder, batch_size=4)

    with pytest.raises(RuntimeError, match="out of memory"):
        await asyncio.wait_for(writer.write(entries), timeout=60)

    assert embedder.calls == 3
    written = sorted(i["anime_id"]["S"] for i in await scan_table(T_ENRICHED))
    assert written == sorted(e.id for e in entries[:8])
    assert await index.count(ANY) == 8


async def test_a_write_failure_stops_the_embedding_too(
    ports: IndexerPorts, sample_entries: list[AnimeEntry], tmp_path: Path
) -> None:
    unopened = EdgeVectorIndex(tmp_path / "never-opened")
    embedder = FailingEmbedder(ports.embedder, fail_on=0)
    writer = IndexWriter(entries=ports.entries, index=unopened, embedder=embedder, batch_size=2)

    with pytest.raises(ConfigurationError, match="call ensure_collection"):
        await asyncio.wait_for(writer.write(sample_entries[:20]), timeout=60)

    # Raised at once (not after embedding all ten batches) and the producer is stopped.
    calls = embedder.calls
    assert calls <= 4
    await asyncio.sleep(0.5)
    assert embedder.calls == calls
    await unopened.close()
