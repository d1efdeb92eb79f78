"""BM25 sparse vectors over anime titles and synonyms, computed in-process.

Why our own encoder instead of qdrant-client's fastembed inference or
``qdrant_edge.Bm25``: fastembed downloads its tokenizer at run time (there is no
network here), and both adapters must produce *the same* vector for the same text
so that the edge shard and a Qdrant server rank identically. A pure-Python
encoder with a fixed hash is the one thing both sides can share byte for byte,
and it lets us tokenize Japanese the way title search needs.

Tokenization
------------
* Unicode NFKC first (full-width Latin → ASCII, half-width katakana → full-width),
  then case folding.
* Latin and other space-separated scripts: diacritics are stripped (``Kyōjin`` →
  ``kyojin``, ``Ī`` → ``i``) and every run of letters/digits is one token;
  everything else (punctuation, symbols, spaces) separates tokens.
* CJK ideographs, hiragana and katakana are written without spaces, so a run of
  them yields its character unigrams *and* bigrams: ``進撃の巨人`` → ``進 撃 の 巨 人
  進撃 撃の の巨 巨人``. A query for ``巨人`` then matches the bigram, and a query
  for the full title matches all of them. Kana keep their voicing marks (``が`` is
  not ``か``): diacritic stripping is applied to non-CJK characters only.

Weights
-------
Document side: BM25 term-frequency saturation
``tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_len))``. Query side:
weight 1 per unique token. IDF is not baked in: the collection's sparse vector is
configured with Qdrant's ``Modifier.IDF`` (both qdrant_edge and qdrant-client
support it), so the engine multiplies each query term by its IDF at search time
and the statistics stay current as the collection changes.

Token → index is the first four bytes of ``blake2b(token)`` read little-endian:
stable across processes, Python versions and machines (no hash seed), which is
what makes stored vectors and later queries agree. Colliding tokens simply share
a dimension (their frequencies add up).
"""

from __future__ import annotations

import hashlib
import itertools
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from avs_shared.ports.vector import SparseVector

#: Names the tokenizer + hashing scheme. Stored with the collection metadata:
#: changing anything that alters token indices needs a new id (and a re-index).
ENCODER_ID = "avs-bm25-v1"

# Ideographs, kana and their marks: scripts written without spaces.
_CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x309F),  # hiragana
    (0x30A0, 0x30FF),  # katakana (incl. ー); U+30FB ・ is excluded below
    (0x31F0, 0x31FF),  # katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B-G
)
_KATAKANA_MIDDLE_DOT = 0x30FB  # a separator (ワン・ピース), not a letter


_SEPARATOR, _WORD, _CJK = 0, 1, 2


@lru_cache(maxsize=1 << 16)
def _classify(ch: str) -> tuple[int, str]:
    """(kind, folded text) of one normalised character; cached, as titles reuse few."""
    cp = ord(ch)
    if cp != _KATAKANA_MIDDLE_DOT and any(lo <= cp <= hi for lo, hi in _CJK_RANGES):
        return _CJK, ch
    # Letters, digits and combining marks belong to a word; everything else separates.
    if unicodedata.category(ch)[0] not in ("L", "N", "M"):
        return _SEPARATOR, ""
    # Strip diacritics (é → e, ō → o); applied to non-CJK only, so kana keep voicing.
    decomposed = unicodedata.normalize("NFD", ch)
    return _WORD, "".join(c for c in decomposed if not unicodedata.combining(c))


def tokenize(text: str) -> list[str]:
    """Split ``text`` into BM25 tokens (see the module docstring for the rules)."""
    tokens: list[str] = []
    word: list[str] = []
    cjk_run: list[str] = []
    for ch in unicodedata.normalize("NFKC", text).casefold():
        kind, folded = _classify(ch)
        if kind == _WORD:
            if cjk_run:
                _flush_cjk(cjk_run, tokens)
            word.append(folded)
            continue
        if word:
            if token := "".join(word):
                tokens.append(token)
            word.clear()
        if kind == _CJK:
            cjk_run.append(ch)
        elif cjk_run:
            _flush_cjk(cjk_run, tokens)
    if word and (token := "".join(word)):
        tokens.append(token)
    if cjk_run:
        _flush_cjk(cjk_run, tokens)
    return tokens


def _flush_cjk(run: list[str], tokens: list[str]) -> None:
    """Unigrams, then bigrams, of a run of CJK characters."""
    tokens.extend(run)
    tokens.extend(a + b for a, b in itertools.pairwise(run))
    run.clear()


def token_index(token: str) -> int:
    """The sparse dimension of ``token``: a stable unsigned 32-bit hash."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest(), "little")


@dataclass(frozen=True, slots=True)
class Bm25Encoder:
    """Encodes documents (titles + synonyms) and queries as BM25 sparse vectors.

    Parameters
    ----------
    k1:
        Term-frequency saturation (standard 1.2).
    b:
        Length normalisation (standard 0.75).
    avg_len:
        Typical document length in tokens. Over the 28-entry real sample, titles
        (romaji, English, Japanese) plus synonyms give a median of ~58 tokens (CJK
        unigrams and bigrams counted) and a mean of ~104, dragged up by a few
        entries with dozens of synonyms. 60 keeps a typical entry's length factor
        near 1 and penalises the long tail; the value only shifts that balance.
    """

    k1: float = 1.2
    b: float = 0.75
    avg_len: float = 60.0

    def __post_init__(self) -> None:
        if self.k1 < 0 or not 0.0 <= self.b <= 1.0 or self.avg_len <= 0:
            raise ValueError(f"invalid BM25 parameters k1={self.k1} b={self.b} avg_len={self.avg_len}")

    @property
    def identity(self) -> str:
        """Everything that shapes stored vectors; recorded with the collection."""
        return f"{ENCODER_ID};k1={self.k1:g};b={self.b:g};avg_len={self.avg_len:g}"

    def encode_document(self, texts: Iterable[str]) -> SparseVector:
        """BM25 document vector over several texts (bigrams never cross two texts)."""
        tokens = [token for text in texts for token in tokenize(text)]
        if not tokens:
            return SparseVector(indices=[], values=[])
        norm = self.k1 * (1.0 - self.b + self.b * len(tokens) / self.avg_len)
        frequencies: Counter[int] = Counter(token_index(token) for token in tokens)
        indices = sorted(frequencies)
        values = [frequencies[i] * (self.k1 + 1.0) / (frequencies[i] + norm) for i in indices]
        return SparseVector(indices=indices, values=values)

    def encode_query(self, text: str) -> SparseVector:
        """Query vector: weight 1 for each unique token (IDF is applied by the engine)."""
        indices = sorted({token_index(token) for token in tokenize(text)})
        return SparseVector(indices=indices, values=[1.0] * len(indices))
