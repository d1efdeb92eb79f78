"""A query that *is* the name of an anime finds that anime first.

Rank fusion alone cannot promise this: BM25 puts the named anime first, but RRF
adds the dense lists, where another anime about the same things may outrank it
(``k=60`` makes ranks 1 and 5 of one list worth nearly the same). So the hybrid
search looks up, alongside the fused query, the anime whose ``name_keys`` payload holds
the query's :func:`title_key` (BM25's few best title matches on a collection indexed
before that field existed, until ``avs backfill-names``), and pins the best *exact*
name match (title, English or Japanese title, or a synonym, compared after
:func:`title_key` normalisation) to rank 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from avs_shared.ports.vector import Hit
from avs_shared.schema.names import title_key

__all__ = ["NAME_FIELDS", "PIN_CANDIDATES", "exact_name_match", "title_key"]

#: Payload fields that name an anime.
NAME_FIELDS: tuple[str, ...] = ("title", "title_english", "title_japanese", "synonyms")
#: How many candidates of the names probe are compared with the query.
PIN_CANDIDATES = 5


def _names(payload: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    main = [payload.get(f) for f in ("title", "title_english", "title_japanese")]
    synonyms = payload.get("synonyms") or []
    return [m for m in main if isinstance(m, str)], [s for s in synonyms if isinstance(s, str)]


def exact_name_match(query: str, hits: Sequence[Hit]) -> Hit | None:
    """The hit named exactly ``query``: a main title beats a synonym, then the hits' order."""
    key = title_key(query)
    if not key:
        return None
    best: tuple[int, int] | None = None
    chosen: Hit | None = None
    for position, hit in enumerate(hits):
        main, synonyms = _names(hit.payload or {})
        if any(title_key(name) == key for name in main):
            strength = 2
        elif any(title_key(name) == key for name in synonyms):
            strength = 1
        else:
            continue
        rank = (strength, -position)
        if best is None or rank > best:
            best, chosen = rank, hit
    return chosen
