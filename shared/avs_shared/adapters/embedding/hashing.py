"""``HashingEmbedder``: a deterministic stand-in for the real model, for unit tests only.

Texts are NFKC-normalised and lowercased, cut into overlapping character n-grams,
and each n-gram is hashed (BLAKE2b, so the result is the same in every process,
unlike ``hash()``) to a dimension and a sign; the counts are L2-normalised. Texts
that share spelling get similar vectors, which is enough for tests of plumbing,
ordering and ranking mechanics, but the vectors carry no meaning: never index
production data with them.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from avs_shared.adapters.embedding._common import check_texts


class HashingEmbedder:
    """Hashed character n-grams in a fixed dimension (tests only; see the module doc).

    Parameters
    ----------
    dimension:
        Vector length; defaults to MiniLM's 384 so it can stand in for it.
    ngram:
        Character n-gram size.
    """

    def __init__(self, dimension: int = 384, *, ngram: int = 3) -> None:
        if dimension < 2:
            raise ValueError("dimension must be at least 2")
        if ngram < 1:
            raise ValueError("ngram must be at least 1")
        self._dimension = dimension
        self._ngram = ngram
        self._slot = lru_cache(maxsize=65536)(self._hash_slot)

    @property
    def model_name(self) -> str:
        return f"hashing-char{self._ngram}-d{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        # Microseconds per text: not worth a thread hop.
        return self.embed_sync(texts)

    def embed_sync(self, texts: Sequence[str]) -> NDArray[np.float32]:
        check_texts(texts)
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            self._fill(out[row], text)
        return out

    def _fill(self, vec: NDArray[np.float32], text: str) -> None:
        normalised = unicodedata.normalize("NFKC", text).lower()
        padded = f" {normalised} "  # word boundaries become part of the n-grams
        grams = [padded[i : i + self._ngram] for i in range(len(padded) - self._ngram + 1)]
        # A text too short for one n-gram still needs a unit vector.
        for gram in grams or [padded]:
            index, sign = self._slot(gram)
            vec[index] += sign
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:  # every n-gram cancelled out: fall back to one fixed slot
            index, _ = self._slot(padded)
            vec[index] = 1.0
            norm = 1.0
        vec /= norm

    def _hash_slot(self, gram: str) -> tuple[int, float]:
        digest = hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return (value >> 1) % self._dimension, 1.0 if value & 1 else -1.0
