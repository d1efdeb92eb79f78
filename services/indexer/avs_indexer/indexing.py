"""Writing entries to the live stores: DynamoDB items and vector points, embedding overlapped with writes.

Embedding is the expensive step (CPU, in the embedder's own threads); DynamoDB and
vector writes are I/O. :class:`IndexWriter` runs them as a two-stage pipeline over
batches: while batch *n* is written, batch *n+1* is embedded, so a bulk load costs
little more than embedding alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass

from avs_indexer.documents import entry_payload, entry_texts, entry_titles
from avs_shared.ports.embedding import Embedder
from avs_shared.ports.entries import EntryStore
from avs_shared.ports.vector import VectorIndex, VectorPoint
from avs_shared.schema import AnimeEntry

TEXT_VECTOR = "text"
TAGS_VECTOR = "tags"
BM25_VECTOR = "bm25"


def build_point(entry: AnimeEntry, text_vector: Sequence[float], tags_vector: Sequence[float]) -> VectorPoint:
    return VectorPoint(
        id=entry.id,
        vectors={TEXT_VECTOR: text_vector, TAGS_VECTOR: tags_vector},
        payload=entry_payload(entry),
        sparse_texts={BM25_VECTOR: entry_titles(entry)},
    )


async def embed_points(embedder: Embedder, entries: Sequence[AnimeEntry]) -> list[VectorPoint]:
    """One embedder call for both vectors of every entry in the batch."""
    if not entries:
        return []
    texts = [entry_texts(e) for e in entries]
    vectors = await embedder.embed([t.text for t in texts] + [t.tags for t in texts])
    n = len(entries)
    return [build_point(e, vectors[i].tolist(), vectors[n + i].tolist()) for i, e in enumerate(entries)]


def _with_explicit_version(entry: AnimeEntry) -> AnimeEntry:
    """The entry with ``version`` written out even when the input left it at its default.

    The stored item keeps only the fields that are set, and a commit's conditional put
    (``version = 0`` for a bulk-loaded entry) fails on an item without ``version``.
    """
    if "version" in entry.model_fields_set:
        return entry
    return entry.model_copy(update={"version": entry.version})


@dataclass
class WriteStats:
    entries: int = 0
    batches: int = 0


async def _batches(
    entries: Iterable[AnimeEntry] | AsyncIterable[AnimeEntry], size: int
) -> AsyncIterator[list[AnimeEntry]]:
    batch: list[AnimeEntry] = []
    if isinstance(entries, AsyncIterable):
        async for entry in entries:
            batch.append(entry)
            if len(batch) == size:
                yield batch
                batch = []
    else:
        for entry in entries:
            batch.append(entry)
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


class IndexWriter:
    """Writes entries to the entry store and the vector index.

    Parameters
    ----------
    entries, index, embedder:
        The ports. ``index.ensure_collection`` must have been called.
    batch_size:
        Entries per embedding call and per write.
    write_entries:
        False to write only vectors (a reindex from the table itself).
    """

    def __init__(
        self,
        *,
        entries: EntryStore,
        index: VectorIndex,
        embedder: Embedder,
        batch_size: int = 64,
        write_entries: bool = True,
    ) -> None:
        self._entries = entries
        self._index = index
        self._embedder = embedder
        self._batch_size = batch_size
        self._write_entries = write_entries

    async def write_one(self, entry: AnimeEntry) -> None:
        """Upsert one committed entry's vectors (the entry itself is written by the caller)."""
        await self._index.upsert(await embed_points(self._embedder, [entry]))

    async def _write_batch(self, batch: list[AnimeEntry], points: list[VectorPoint]) -> None:
        if self._write_entries:
            stored = [_with_explicit_version(e) for e in batch]
            await asyncio.gather(self._entries.batch_put(stored), self._index.upsert(points))
        else:
            await self._index.upsert(points)

    async def write(
        self,
        entries: Iterable[AnimeEntry] | AsyncIterable[AnimeEntry],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> WriteStats:
        """Embed and write every entry; embedding of the next batch overlaps the current write.

        ``on_batch`` receives the size of each batch once it is written (for progress bars).
        A failure stops the pipeline and is raised; batches already written stay written
        (every write is an idempotent upsert, so a rerun converges).
        """
        stats = WriteStats()
        ready: asyncio.Queue[tuple[list[AnimeEntry], list[VectorPoint]] | None] = asyncio.Queue(maxsize=2)

        async def produce() -> None:
            try:
                async for batch in _batches(entries, self._batch_size):
                    await ready.put((batch, await embed_points(self._embedder, batch)))
            finally:
                await ready.put(None)

        async def consume() -> None:
            while (item := await ready.get()) is not None:
                batch, points = item
                await self._write_batch(batch, points)
                stats.entries += len(batch)
                stats.batches += 1
                if on_batch is not None:
                    on_batch(len(batch))

        producer = asyncio.create_task(produce())
        try:
            await consume()
            await producer  # re-raise an embedding failure
        finally:
            if not producer.done():
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer
        return stats
