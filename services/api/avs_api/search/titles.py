"""A query that *is* the name of an anime finds that anime first.

Rank fusion alone cannot promise this: BM25 puts the named anime first, but RRF
adds the dense lists, where another anime about the same things may outrank it
(``k=60`` makes ranks 1 and 5 of one list worth nearly the same). So the hybrid
search asks BM25 for its few best title matches alongside the fused query and pins
the best *exact* name match (title, English or Japanese title, or a synonym,
compared after :func:`title_key` normalisation) to rank 1.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from avs_shared.ports.vector import Hit

#: Payload fields that name an anime.
NAME_FIELDS: tuple[str, ...] = ("title", "title_english", "title_japanese", "synonyms")
#: How many BM25 hits are checked for an exact name match.
PIN_CANDIDATES = 5


@functools.lru_cache(maxsize=1 << 14)
def title_key(text: str) -> str:
    """Case, width and punctuation-insensitive form of a name: ``"Your Name."`` → ``"yourname"``.

    Letters and digits of every script are kept (``進撃の巨人`` stays as it is). Cached: every
    hybrid search compares the names of its few best title matches, and popular names recur.
    """
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


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
