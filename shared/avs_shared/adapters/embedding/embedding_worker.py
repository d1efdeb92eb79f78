"""The worker process of :class:`~avs_shared.adapters.embedding.process.ProcessEmbedder`.

    python -m avs_shared.adapters.embedding.embedding_worker

Started by the adapter, never by hand (frames on stdin and stdout, see
:mod:`avs_shared.adapters.child_worker`). The ``__init__`` frame carries
:class:`MiniLMEmbedder`'s arguments. Each ``embed`` runs inline on the worker's loop:
one batch at a time, the next calls waiting in the pipe, and no thread to hand the GIL
to and back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avs_shared.adapters.child_worker import worker_main
from avs_shared.adapters.embedding.minilm import Backend, MiniLMEmbedder
from avs_shared.adapters.embedding.process import METHODS


class _InlineEmbedder:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._embedder = MiniLMEmbedder(*args, **kwargs)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._embedder.embed_sync(texts)

    def warm_up(self) -> Backend:
        return self._embedder.warm_up()

    def close(self) -> None:
        self._embedder.close()


def main() -> None:
    worker_main("query embedding worker", _InlineEmbedder, METHODS)


if __name__ == "__main__":
    main()
