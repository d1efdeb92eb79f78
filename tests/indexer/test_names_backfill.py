"""``avs backfill-names``: points indexed before ``name_keys`` existed get it from their payload."""

from __future__ import annotations

from dataclasses import replace

from avs_indexer.documents import entry_payload
from avs_indexer.indexing import build_point
from avs_indexer.names import NAME_KEYS_FIELD, backfill_name_keys
from avs_indexer.ports import IndexerPorts
from avs_shared.ports.vector import IsEmpty, SearchFilter, StatusScope
from avs_shared.schema import AnimeEntry

ANY = SearchFilter(status=StatusScope.ANY)
LACKING = SearchFilter(must=[IsEmpty(NAME_KEYS_FIELD)], status=StatusScope.ANY)


async def test_legacy_points_get_the_name_keys_the_indexer_writes_now(
    ports: IndexerPorts, sample_entries: list[AnimeEntry]
) -> None:
    index = await ports.ready_index()
    unit = [1.0] + [0.0] * 383
    entries = sample_entries[:30]
    current = [build_point(e, unit, unit) for e in entries[:10]]
    legacy = [
        replace(p, payload={k: v for k, v in p.payload.items() if k != NAME_KEYS_FIELD})
        for p in (build_point(e, unit, unit) for e in entries[10:])
    ]
    await index.upsert([*current, *legacy])
    assert await index.count(LACKING) == 20

    seen: list[tuple[int, int]] = []
    written = await backfill_name_keys(index, progress=lambda done, total: seen.append((done, total)))

    assert written == 20 and seen[-1] == (20, 20)
    assert await index.count(LACKING) == 0 and await index.count(ANY) == 30
    stored = {p.id: p.payload for p in await index.get([e.id for e in entries])}
    for entry in entries:  # every field as the indexer writes it, the rest untouched
        assert stored[entry.id] == entry_payload(entry), entry.title
    assert await backfill_name_keys(index) == 0  # nothing left: a re-run reads nothing
