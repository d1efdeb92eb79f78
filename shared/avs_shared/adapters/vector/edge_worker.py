"""The worker process of :class:`~avs_shared.adapters.vector.edge_process.EdgeProcessIndex`.

    python -m avs_shared.adapters.vector.edge_worker

Started by the adapter, never by hand: it reads call frames on stdin and writes reply
frames on stdout (:mod:`avs_shared.adapters.child_worker`). The first frame is
``__init__`` with the arguments of :class:`EdgeVectorIndex`; every later one names a
method of the port. Reads run on the worker's loop thread (``reads_inline``): the engine
holds the GIL for each call anyway, and this process has nothing else to run.

It exits at end of file on stdin, after closing the engine (flush, then the ``LOCK``).
SIGINT is ignored (the parent decides when to stop); SIGTERM closes the engine and
exits, like end of file.
"""

from __future__ import annotations

from typing import Any

from avs_shared.adapters.child_worker import worker_main

from .edge import EdgeVectorIndex
from .edge_process import METHODS


def _index(*args: Any, **kwargs: Any) -> EdgeVectorIndex:
    options = {k: v for k, v in kwargs.items() if v is not None}
    return EdgeVectorIndex(*args, reads_inline=True, **options)


def main() -> None:
    worker_main("vector index worker", _index, METHODS)


if __name__ == "__main__":
    main()
