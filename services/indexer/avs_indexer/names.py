"""``avs backfill-names``: give points indexed before ``name_keys`` existed their name keys.

The API pins an anime named exactly like a text query through the payload's ``name_keys``
(:func:`avs_indexer.documents.entry_payload`). While any point lacks the field it falls
back to a slower BM25 probe. This writes the field from the names each point's payload
already holds: no DynamoDB read, no embedding, so it takes seconds where ``avs reindex
--keep`` re-embeds every anime.

Safe to interrupt and re-run: it only ever reads the points that still lack the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from avs_shared.ports.vector import IsEmpty, SearchFilter, StatusScope, VectorIndex
from avs_shared.schema.names import name_keys

#: The payload field (see ``avs_indexer.documents.entry_payload``).
NAME_KEYS_FIELD = "name_keys"
_NAME_FIELDS = ["title", "title_english", "title_japanese", "synonyms"]
_PAGE = 500

Progress = Callable[[int, int], None]


async def backfill_name_keys(index: VectorIndex, *, progress: Progress | None = None) -> int:
    """Write ``name_keys`` into every point without it; returns how many points were written."""
    lacking = SearchFilter(must=[IsEmpty(NAME_KEYS_FIELD)], status=StatusScope.ANY)
    total = await index.count(lacking)
    done = 0
    while True:
        page = await index.scroll(filter=lacking, limit=_PAGE, with_payload=_NAME_FIELDS)
        if not page.hits:
            return done
        await asyncio.gather(
            *(index.set_payload([hit.id], {NAME_KEYS_FIELD: _keys(hit.payload or {})}) for hit in page.hits)
        )
        done += len(page.hits)
        if progress is not None:
            progress(done, max(total, done))


def _keys(payload: dict[str, object]) -> list[str]:
    synonyms = payload.get("synonyms")
    names = [payload.get(f) for f in _NAME_FIELDS[:3]] + (
        list(synonyms) if isinstance(synonyms, list) else []
    )
    # As entry_payload writes it: never empty, so a point with the field is one that was done.
    return name_keys(n for n in names if isinstance(n, str)) or [""]
