"""Names compared as people type them: case, width, spacing and punctuation do not count.

The indexer stores :func:`name_keys` of every anime's titles and synonyms in the vector
payload (``name_keys``, a keyword index), so that the API finds the anime named exactly
like a query with one filtered lookup instead of a text search.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable


@functools.lru_cache(maxsize=1 << 14)
def title_key(text: str) -> str:
    """Case, width and punctuation-insensitive form of a name: ``"Your Name."`` → ``"yourname"``.

    Letters and digits of every script are kept (``進撃の巨人`` stays as it is). A name with
    neither keeps its symbols (``"∀"``, ``"+++"``), so every name that is not blank has a
    key. Cached: every hybrid search compares names, and popular names recur.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum()) or "".join(folded.split())


def name_keys(names: Iterable[str | None]) -> list[str]:
    """The distinct non-empty :func:`title_key` of ``names``, sorted (a stable payload)."""
    return sorted({key for name in names if name and (key := title_key(name))})
