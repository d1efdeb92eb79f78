"""The ``Embedder`` port: text in, dense unit vectors out.

Two adapters implement it (``avs_shared.adapters.embedding``):

* ``MiniLMEmbedder`` - all-MiniLM-L6-v2, the production model (384 dimensions);
* ``HashingEmbedder`` - hashed character n-grams, deterministic and instant; for
  unit tests only (its vectors carry no meaning beyond shared spelling).

Vectors are returned as one ``numpy`` array of shape ``(len(texts), dimension)``
and dtype ``float32``, row ``i`` belonging to ``texts[i]``. Every row has unit L2
norm, so the dot product of two rows is their cosine similarity. Qdrant accepts
the rows directly; call ``.tolist()`` where a ``Sequence[float]`` is required (e.g.
``VectorPoint.vectors``). numpy is only imported for type checking here, so
importing the port costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

#: A ``(n, dimension)`` float32 matrix of unit-length rows.
Vectors: TypeAlias = "NDArray[np.float32]"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length dense vectors of a fixed dimension.

    Implementations load their model lazily (no I/O at construction) and are safe
    to share between tasks and threads.
    """

    @property
    def model_name(self) -> str:
        """Identifies the vector space; vectors of different names must not be mixed."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector (the Qdrant collection's vector size)."""
        ...

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` without blocking the event loop.

        Parameters
        ----------
        texts:
            The texts, in any number and of any length (long texts are truncated by
            the model). A bare ``str`` is rejected with ``TypeError``: it would
            otherwise be embedded character by character.

        Returns
        -------
        Vectors
            ``float32`` array of shape ``(len(texts), dimension)``; row ``i`` is the
            unit vector of ``texts[i]``. An empty input gives shape ``(0, dimension)``.
        """
        ...

    def embed_sync(self, texts: Sequence[str]) -> Vectors:
        """Like :meth:`embed`, for code that already runs in a worker thread.

        Blocks for the duration of the model run; never call it on the event loop.
        """
        ...
