"""``EdgeVectorIndex``: the collection as a Qdrant Edge shard, in-process.

Layout of the directory passed in (e.g. ``<data_dir>/qdrant-edge/anime``)::

    LOCK             flock'd by the owning process, holds its pid
    collection.json  CollectionMetadata (model, dimension, sparse encoder)
    shard/           the EdgeShard (wal, segments, edge_config.json)

The engine is synchronous: every call runs in a worker thread
(``asyncio.to_thread``) so the event loop keeps serving, and writes are
serialised by an ``asyncio.Lock`` (one writer, like a server's update queue;
reads run concurrently). Writes go to the shard's write-ahead log before they
return, so a crash loses nothing acknowledged; ``close()`` flushes segments too.

Only one process may own a shard. The engine's own WAL lock would only say
``WouldBlock``; an exclusive ``flock`` on ``LOCK`` fails first with the owner's pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import qdrant_edge as qe

from avs_shared.errors import AvsError, ConfigurationError
from avs_shared.ports.vector import (
    Clause,
    DenseQuery,
    FacetCount,
    Hit,
    IndexHealth,
    IndexOwnedElsewhere,
    OrderBy,
    Page,
    Payload,
    Search,
    SearchFilter,
    SearchQuery,
    SimilarTo,
    VectorPoint,
    WithPayload,
)

from . import edge_codec as codec
from .filters import lower
from .model import (
    ANIME_COLLECTION,
    DEFAULT_SEARCH_THREADS,
    FACET_FETCH_LIMIT,
    CollectionMetadata,
    CollectionSpec,
    canonical_id,
    canonical_ids,
    check_facet_field,
    first_fetch,
    payload_selector,
    prepare_points,
    resolve_sparse,
    similar_query,
    sort_facets,
    tie_stable_page,
)
from .ordering import scroll_page
from .sparse import Bm25Encoder

T = TypeVar("T")

_UPSERT_BATCH = 1_000
#: How long opening a shard waits for an owner that is an index worker process, which may
#: be closing it because its parent died (the worker then exits by itself).
WORKER_EXIT_WAIT_S = 10.0
#: The operations ``reads_inline`` runs on the event loop's thread.
_READS = frozenset({"get", "search", "scroll", "count", "facet"})


class EdgeVectorIndex:
    """The :class:`~avs_shared.ports.vector.VectorIndex` port on a local Qdrant Edge shard.

    Parameters
    ----------
    path:
        The collection directory (created if missing).
    spec:
        Vector names and payload indexes; the ``anime`` collection by default.
    encoder:
        The BM25 encoder for ``sparse_texts`` and text queries.
    reads_inline:
        Run reads (searches, scrolls, counts, facets, gets) on the event loop's thread
        instead of a worker thread. The engine holds the GIL for the whole of a call, so
        a thread lets nothing else run meanwhile; it only adds the hop. For a process that
        does nothing but serve the index (:mod:`.edge_worker`). Writes, ``optimize`` and
        ``close`` still run in a thread.
    search_threads:
        Threads of the engine's search pool, which reads a query's segments in parallel
        (``None``: what the shard has recorded, else one per CPU). One, the default, reads them
        on one thread: on 2 cores a hybrid search then costs 1.75 instead of 2.15 ms of CPU
        (40,000 anime, two segments), and no more time, because the handoffs between pool
        threads cost more than the parallel reads save. Raise it for latency on a machine
        with idle cores and many segments.
    """

    backend = "qdrant-edge"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        spec: CollectionSpec = ANIME_COLLECTION,
        encoder: Bm25Encoder | None = None,
        reads_inline: bool = False,
        search_threads: int | None = DEFAULT_SEARCH_THREADS,
    ) -> None:
        if search_threads is not None and search_threads < 1:
            raise ValueError("search_threads must be at least 1 (or None for the engine's default)")
        self._dir = Path(path)
        self._reads_inline = reads_inline
        self._search_threads = search_threads
        self._spec = spec
        self._encoder = encoder or Bm25Encoder()
        self._shard: qe.EdgeShard | None = None
        self._meta: CollectionMetadata | None = None
        self._lock_file: int | None = None
        self._writes = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    async def ensure_collection(self, model_name: str, dimension: int, *, recreate: bool = False) -> None:
        wanted = CollectionMetadata(model_name, dimension, self._encoder.identity)
        async with self._writes:
            await self._run("open", lambda: self._open(wanted, recreate))

    def _open(self, wanted: CollectionMetadata, recreate: bool) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        shard_dir, meta_file = self._dir / "shard", self._dir / "collection.json"
        if self._shard is not None:
            if not recreate:  # already open: same model is a no-op, another is refused
                wanted.check_compatible(self._meta, f"edge collection at {self._dir}")
                return
            self._shard.close()
            self._shard = None
        stored = _read_meta(meta_file)
        has_shard = (shard_dir / "edge_config.json").exists()
        if has_shard and not recreate:
            wanted.check_compatible(stored, f"edge collection at {self._dir}")
        if recreate and shard_dir.exists():
            shutil.rmtree(shard_dir)
            has_shard = False
        # Metadata first: a crash before the shard exists leaves a state the next
        # start completes, never a shard that records no model.
        if stored != wanted:
            _write_meta(meta_file, wanted)
        if has_shard:
            # The configuration's vectors are checked against the shard's; the pool size applies.
            shard = qe.EdgeShard.load(str(shard_dir), self._config(wanted.dimension))
        else:
            shard = qe.EdgeShard.create(str(shard_dir), self._config(wanted.dimension))
        existing = set(shard.info().payload_schema)
        for field_name, kind in self._spec.payload_indexes.items():
            if field_name not in existing:
                shard.update(qe.UpdateOperation.create_field_index(field_name, codec.index_schema(kind)))
        self._shard, self._meta = shard, wanted

    def _config(self, dimension: int) -> qe.EdgeConfig:
        return qe.EdgeConfig(
            vectors={
                name: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)
                for name in self._spec.dense_vectors
            },
            sparse_vectors={
                name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)
                for name in self._spec.sparse_vectors
            },
            max_search_threads=self._search_threads,
        )

    def _take_lock(self) -> None:
        if self._lock_file is not None:
            return
        fd = os.open(self._dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + WORKER_EXIT_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                # A worker process (edge_worker) whose parent was just killed is still closing
                # the shard: a process started right after (a rerun) waits for it.
                worker = _is_edge_worker(owner)
                if worker and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                os.close(fd)
                waited = f" (an index worker; waited {WORKER_EXIT_WAIT_S:g} s for it)" if worker else ""
                raise IndexOwnedElsewhere(
                    f"edge collection {self._dir} is open in process pid {owner}{waited}; only one process "
                    "may own a Qdrant Edge shard (run the API and workers in one process, or use a "
                    "Qdrant server)"
                ) from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        os.fsync(fd)
        self._lock_file = fd

    async def close(self) -> None:
        async with self._writes:
            shard, self._shard = self._shard, None
            if shard is not None:
                await self._run("close", lambda: _flush_and_close(shard))
            if self._lock_file is not None:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                os.close(self._lock_file)
                self._lock_file = None

    async def health(self) -> IndexHealth:
        shard = self._shard
        if shard is None:
            return IndexHealth(
                False, self.backend, detail="collection not opened (ensure_collection not called)"
            )
        try:
            info = await asyncio.to_thread(shard.info)
        except Exception as exc:
            return IndexHealth(False, self.backend, detail=str(exc))
        return IndexHealth(
            True, self.backend, points=info.points_count, detail=f"{info.segments_count} segments"
        )

    async def optimize(self) -> None:
        shard = self._open_shard()
        async with self._writes:
            await self._run("optimize", shard.optimize)

    # ------------------------------------------------------------------ writes

    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        shard, dimension = self._open_shard(), self._dimension()

        def apply() -> None:  # validation, BM25 encoding and conversion stay off the event loop
            prepared = prepare_points(points, self._spec, dimension, self._encoder)
            for start in range(0, len(prepared), _UPSERT_BATCH):
                batch = [codec.to_point(p) for p in prepared[start : start + _UPSERT_BATCH]]
                shard.update(qe.UpdateOperation.upsert_points(batch))

        async with self._writes:
            await self._run("upsert", apply)

    async def set_payload(self, point_ids: Sequence[str], payload: Payload) -> list[str]:
        shard, ids = self._open_shard(), canonical_ids(point_ids)
        if not ids:
            return []

        def apply() -> list[str]:
            found = {codec.point_id(r.id) for r in shard.retrieve(codec.ids_list(ids), False, False)}
            existing = [pid for pid in ids if pid in found]
            if existing:
                shard.update(qe.UpdateOperation.set_payload(codec.ids_list(existing), dict(payload)))
            return [pid for pid in ids if pid not in found]

        async with self._writes:
            return await self._run("set_payload", apply)

    async def delete(self, point_ids: Sequence[str]) -> None:
        shard, ids = self._open_shard(), canonical_ids(point_ids)
        if ids:
            async with self._writes:
                await self._run(
                    "delete", lambda: shard.update(qe.UpdateOperation.delete_points(codec.ids_list(ids)))
                )

    # ------------------------------------------------------------------ reads

    async def get(self, point_ids: Sequence[str], *, with_vectors: bool = False) -> list[VectorPoint]:
        shard, ids = self._open_shard(), canonical_ids(point_ids)
        records = await self._run("get", lambda: shard.retrieve(codec.ids_list(ids), True, with_vectors))
        by_id = {codec.point_id(r.id): codec.to_vector_point(r, with_vectors) for r in records}
        return [by_id[pid] for pid in dict.fromkeys(ids) if pid in by_id]

    async def search(
        self,
        query: SearchQuery,
        *,
        filter: SearchFilter | None = None,
        limit: int = 10,
        offset: int = 0,
        score_threshold: float | None = None,
        with_payload: WithPayload = True,
    ) -> list[Hit]:
        shard = self._open_shard()
        build = await self._request_builder(query, filter, score_threshold)
        if build is None:
            return []

        async def fetch(n: int) -> list[Hit]:
            request = build(n)
            points = await self._run("search", lambda: shard.query(request))
            return [codec.to_hit(p, p.score, False) for p in points]

        [hits] = await self._with_payloads(
            [await tie_stable_page(fetch, offset=offset, limit=limit)], [with_payload]
        )
        return hits

    async def search_many(self, searches: Sequence[Search]) -> list[list[Hit]]:
        """The searches' first fetches go to the engine as one ``query_batch`` (one thread hop, one
        planned pass over the segments); only a page whose last place is tied to the end of
        what was fetched asks again, on its own, as ``search`` would."""
        shard = self._open_shard()
        builder = self._request_builder
        builds = [await builder(s.query, s.filter, s.score_threshold) for s in searches]
        sizes = [first_fetch(offset=s.offset, limit=s.limit) for s in searches]
        batched = [(i, build(sizes[i])) for i, build in enumerate(builds) if build is not None]
        first: dict[int, list[qe.ScoredPoint]] = {}
        if batched:
            request = qe.QueryBatchRequest([r for _, r in batched])
            answers = await self._run("search", lambda: shard.query_batch(request))
            first = {i: points for (i, _), points in zip(batched, answers, strict=True)}

        async def page(i: int, s: Search, build: Callable[[int], qe.QueryRequest]) -> list[Hit]:
            async def fetch(n: int) -> list[Hit]:
                if n == sizes[i] and i in first:
                    points = first.pop(i)
                else:
                    request = build(n)
                    points = await self._run("search", lambda: shard.query(request))
                return [codec.to_hit(p, p.score, False) for p in points]

            return await tie_stable_page(fetch, offset=s.offset, limit=s.limit)

        results: list[list[Hit]] = []
        for i, (s, build) in enumerate(zip(searches, builds, strict=True)):
            results.append([] if build is None else await page(i, s, build))
        return await self._with_payloads(results, [s.with_payload for s in searches])

    async def _with_payloads(
        self, pages: list[list[Hit]], selectors: Sequence[WithPayload]
    ) -> list[list[Hit]]:
        """``pages`` (hits without payload) with the payloads their selectors ask for, read in one
        ``retrieve`` of the pages' points.

        Searches fetch ids and scores only, more than a page (the tie slack, the fused
        candidates), and the engine builds the payload of every hit it returns: reading the
        payloads of the page's hits afterwards costs a fraction of that. A point deleted in
        between is left out of its page.
        """
        wanted = [h.id for hits, sel in zip(pages, selectors, strict=True) if sel is not False for h in hits]
        if not wanted:
            return pages
        shard, ids = self._open_shard(), list(dict.fromkeys(wanted))
        records = await self._run("get", lambda: shard.retrieve(codec.ids_list(ids), True, False))
        stored = {codec.point_id(r.id): r.payload or {} for r in records}
        return [
            hits
            if sel is False
            else [Hit(h.id, h.score, codec.select_payload(stored[h.id], sel)) for h in hits if h.id in stored]
            for hits, sel in zip(pages, selectors, strict=True)
        ]

    async def _request_builder(
        self,
        query: SearchQuery,
        filter: SearchFilter | None,
        score_threshold: float | None,
    ) -> Callable[[int], qe.QueryRequest] | None:
        """The engine request of one search for a fetch size, ids and scores only (see
        ``_with_payloads``); None when nothing can match."""
        clause = lower(filter)
        if isinstance(query, SimilarTo):
            query, clause = await self._resolve_similar(query, clause)
        return codec.search_request(
            resolve_sparse(query, self._encoder),
            codec.to_filter(clause),
            score_threshold,
            False,
        )

    async def _resolve_similar(self, query: SimilarTo, clause: Clause) -> tuple[DenseQuery, Clause]:
        shard, anchor = self._open_shard(), canonical_id(query.point_id)
        records = await self._run("get", lambda: shard.retrieve([anchor], False, [query.using]))
        return similar_query(
            query, anchor, codec.stored_dense(records[0], query.using) if records else None, clause
        )

    async def scroll(
        self,
        *,
        order_by: OrderBy | None = None,
        filter: SearchFilter | None = None,
        limit: int = 20,
        offset: int = 0,
        cursor: str | None = None,
        with_payload: WithPayload = True,
    ) -> Page:
        shard, clause = self._open_shard(), lower(filter)
        wanted = payload_selector(with_payload)

        async def by_id(c: Clause, start: str | None, n: int) -> list[Hit]:
            request = qe.ScrollRequest(offset=start, limit=n, filter=codec.to_filter(c), with_payload=wanted)
            records, _ = await self._run("scroll", lambda: shard.scroll(request))
            return [codec.to_hit(r, 0.0, with_payload) for r in records]

        async def by_value(c: Clause, ob: OrderBy, n: int) -> list[Hit]:
            direction = qe.Direction.Asc if ob.direction == "asc" else qe.Direction.Desc
            request = qe.QueryRequest(
                limit=n, query=qe.OrderBy(ob.field, direction), filter=codec.to_filter(c), with_payload=wanted
            )
            points = await self._run("scroll", lambda: shard.query(request))
            return [codec.to_hit(p, float(p.order_value or 0.0), with_payload) for p in points]

        return await scroll_page(
            self._spec, by_id, by_value, clause, order_by, limit=limit, offset=offset, cursor=cursor
        )

    async def count(self, filter: SearchFilter | None = None) -> int:
        shard, edge_filter = self._open_shard(), codec.to_filter(lower(filter))
        return await self._run("count", lambda: shard.count(qe.CountRequest(exact=True, filter=edge_filter)))

    async def facets(
        self, field: str, *, filter: SearchFilter | None = None, limit: int = 20
    ) -> list[FacetCount]:
        check_facet_field(self._spec, field)
        shard, edge_filter = self._open_shard(), codec.to_filter(lower(filter))
        request = qe.FacetRequest(field, limit=FACET_FETCH_LIMIT, exact=True, filter=edge_filter)
        response = await self._run("facet", lambda: shard.facet(request))
        return sort_facets([FacetCount(h.value, h.count) for h in response.hits], limit)

    # ------------------------------------------------------------------ plumbing

    def _open_shard(self) -> qe.EdgeShard:
        if self._shard is None:
            raise ConfigurationError(
                f"edge collection {self._dir} is not open: call ensure_collection() first"
            )
        return self._shard

    def _dimension(self) -> int:
        assert self._meta is not None  # set together with the shard
        return self._meta.dimension

    async def _run(self, operation: str, fn: Callable[[], T]) -> T:
        try:
            if self._reads_inline and operation in _READS:
                return fn()
            return await asyncio.to_thread(fn)
        except AvsError:
            raise
        except Exception as exc:
            raise codec.translate(exc, operation) from exc


def _is_edge_worker(pid: str) -> bool:
    """Whether ``pid`` runs :mod:`.edge_worker` (Linux: its command line; elsewhere False)."""
    try:
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except (ValueError, OSError):
        return False
    return b"avs_shared.adapters.vector.edge_worker" in cmdline.split(b"\0")


def _flush_and_close(shard: qe.EdgeShard) -> None:
    shard.flush()
    shard.close()


def _read_meta(path: Path) -> CollectionMetadata | None:
    with contextlib.suppress(FileNotFoundError):
        data = json.loads(path.read_text(encoding="utf-8"))
        return CollectionMetadata.from_json(data) if isinstance(data, dict) else None
    return None


def _write_meta(path: Path, meta: CollectionMetadata) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(meta.to_json(), fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
