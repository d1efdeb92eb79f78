"""``QdrantServerVectorIndex``: the collection on a Qdrant server via ``AsyncQdrantClient``.

Also runs on qdrant-client's local mode (``AsyncQdrantClient(location=":memory:")``
or ``path=...``), which is how the congruence suite exercises it without a server.

Model metadata lives in Qdrant's collection metadata (``metadata`` on
create/update collection, Qdrant >= 1.16), so any process that opens the
collection can check which embedding model its vectors came from.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from qdrant_client import AsyncQdrantClient, models

from avs_shared.errors import AvsError, ConfigurationError, Conflict
from avs_shared.ports.vector import (
    Clause,
    DenseQuery,
    FacetCount,
    Hit,
    IndexHealth,
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

from . import server_codec as codec
from .filters import lower
from .model import (
    ANIME_COLLECTION,
    FACET_FETCH_LIMIT,
    CollectionMetadata,
    CollectionSpec,
    canonical_id,
    canonical_ids,
    check_facet_field,
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

_UPSERT_BATCH = 256


class QdrantServerVectorIndex:
    """The :class:`~avs_shared.ports.vector.VectorIndex` port on a Qdrant server.

    Parameters
    ----------
    client:
        An ``AsyncQdrantClient`` (remote, or local mode in tests).
    spec:
        Vector names and payload indexes; the ``anime`` collection by default.
    encoder:
        The BM25 encoder for ``sparse_texts`` and text queries.
    owns_client:
        Close the client in :meth:`close` (true when built by :meth:`connect`).
    live_idf:
        Compute IDF over the live points (``IdfCorpusParams``, Qdrant >= 1.17) so
        scores match the edge adapter exactly; set False for an older server, which
        then uses its index statistics (deleted points count until optimised).
    """

    backend = "qdrant-server"

    def __init__(
        self,
        client: AsyncQdrantClient,
        *,
        spec: CollectionSpec = ANIME_COLLECTION,
        encoder: Bm25Encoder | None = None,
        owns_client: bool = False,
        live_idf: bool = True,
    ) -> None:
        self._client = client
        self._spec = spec
        self._name = spec.name
        self._encoder = encoder or Bm25Encoder()
        self._owns_client = owns_client
        self._meta: CollectionMetadata | None = None
        self._idf_params = (
            models.SearchParams(idf=models.IdfCorpusParams(corpus=models.Filter())) if live_idf else None
        )

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        api_key: str | None = None,
        timeout_s: int = 10,
        spec: CollectionSpec = ANIME_COLLECTION,
    ) -> QdrantServerVectorIndex:
        """An index over a new client for ``url`` (no I/O until the first call)."""
        # No version probe: it would be a request from a background thread at construction.
        client = AsyncQdrantClient(url=url, api_key=api_key, timeout=timeout_s, check_compatibility=False)
        return cls(client, spec=spec, owns_client=True)

    # ------------------------------------------------------------------ lifecycle

    async def ensure_collection(self, model_name: str, dimension: int, *, recreate: bool = False) -> None:
        wanted = CollectionMetadata(model_name, dimension, self._encoder.identity)
        where = f"qdrant collection {self._name!r}"
        exists = await self._run("collection_exists", self._client.collection_exists(self._name))
        if exists and recreate:
            await self._run("delete_collection", self._client.delete_collection(self._name))
            exists = False
        if not exists:
            # Losing a creation race to another process is fine if it built the same thing;
            # reading the metadata back also catches a server too old to store it.
            with contextlib.suppress(Conflict):
                await self._run("create_collection", self._create(wanted))
        info = await self._run("get_collection", self._client.get_collection(self._name))
        wanted.check_compatible(CollectionMetadata.from_json(info.config.metadata or {}), where)
        existing = set(info.payload_schema or {})
        for field_name, kind in self._spec.payload_indexes.items():
            if field_name not in existing:
                await self._run(
                    "create_payload_index",
                    self._client.create_payload_index(
                        self._name, field_name, field_schema=codec.index_schema(kind), wait=True
                    ),
                )
        self._meta = wanted

    async def _create(self, meta: CollectionMetadata) -> bool:
        return await self._client.create_collection(
            self._name,
            vectors_config={
                name: models.VectorParams(size=meta.dimension, distance=models.Distance.COSINE)
                for name in self._spec.dense_vectors
            },
            sparse_vectors_config={
                name: models.SparseVectorParams(modifier=models.Modifier.IDF)
                for name in self._spec.sparse_vectors
            },
            metadata=meta.to_json(),
        )

    async def close(self) -> None:
        if self._owns_client:
            await self._run("close", self._client.close())
        self._meta = None

    async def health(self) -> IndexHealth:
        try:
            info = await self._client.get_collection(self._name)
        except Exception as exc:
            return IndexHealth(False, self.backend, detail=str(exc))
        return IndexHealth(True, self.backend, points=info.points_count, detail=str(info.status))

    async def optimize(self) -> None:
        self._dimension()  # a server optimises in the background; only check we are open

    # ------------------------------------------------------------------ writes

    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        # Validation and BM25 encoding are CPU work: keep them off the event loop.
        prepared = await asyncio.to_thread(
            prepare_points, points, self._spec, self._dimension(), self._encoder
        )
        for start in range(0, len(prepared), _UPSERT_BATCH):
            batch = [codec.to_point(p) for p in prepared[start : start + _UPSERT_BATCH]]
            await self._run("upsert", self._client.upsert(self._name, batch, wait=True))

    async def set_payload(self, point_ids: Sequence[str], payload: Payload) -> list[str]:
        self._dimension()
        ids = canonical_ids(point_ids)
        if not ids:
            return []
        records = await self._run(
            "retrieve", self._client.retrieve(self._name, ids, with_payload=False, with_vectors=False)
        )
        found = {codec.point_id(r.id) for r in records}
        existing = [pid for pid in ids if pid in found]
        if existing:
            await self._run(
                "set_payload",
                self._client.set_payload(self._name, dict(payload), points=list(existing), wait=True),
            )
        return [pid for pid in ids if pid not in found]

    async def delete(self, point_ids: Sequence[str]) -> None:
        self._dimension()
        ids = canonical_ids(point_ids)
        if ids:
            selector = models.PointIdsList(points=list(ids))
            await self._run("delete", self._client.delete(self._name, selector, wait=True))

    # ------------------------------------------------------------------ reads

    async def get(self, point_ids: Sequence[str], *, with_vectors: bool = False) -> list[VectorPoint]:
        self._dimension()
        ids = canonical_ids(point_ids)
        records = await self._run(
            "retrieve", self._client.retrieve(self._name, ids, with_payload=True, with_vectors=with_vectors)
        )
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
        self._dimension()
        clause = lower(filter)
        if isinstance(query, SimilarTo):
            query, clause = await self._resolve_similar(query, clause)
        build = codec.search_request(
            resolve_sparse(query, self._encoder),
            codec.to_filter(clause),
            score_threshold,
            payload_selector(with_payload),
            self._idf_params,
        )
        if build is None:
            return []

        async def fetch(n: int) -> list[Hit]:
            response = await self._run("query", self._client.query_points(self._name, **build(n)))
            return [codec.to_hit(p, p.score, with_payload) for p in response.points]

        return await tie_stable_page(fetch, offset=offset, limit=limit)

    async def search_many(self, searches: Sequence[Search]) -> list[list[Hit]]:
        """The searches concurrently, each exactly as :meth:`search` runs it."""
        return list(
            await asyncio.gather(
                *(
                    self.search(
                        s.query,
                        filter=s.filter,
                        limit=s.limit,
                        offset=s.offset,
                        score_threshold=s.score_threshold,
                        with_payload=s.with_payload,
                    )
                    for s in searches
                )
            )
        )

    async def _resolve_similar(self, query: SimilarTo, clause: Clause) -> tuple[DenseQuery, Clause]:
        anchor = canonical_id(query.point_id)
        records = await self._run(
            "retrieve",
            self._client.retrieve(self._name, [anchor], with_payload=False, with_vectors=[query.using]),
        )
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
        self._dimension()
        clause, wanted = lower(filter), payload_selector(with_payload)

        async def by_id(c: Clause, start: str | None, n: int) -> list[Hit]:
            call = self._client.scroll(
                self._name, scroll_filter=codec.to_filter(c), limit=n, offset=start, with_payload=wanted
            )
            records, _ = await self._run("scroll", call)
            return [codec.to_hit(r, 0.0, with_payload) for r in records]

        async def by_value(c: Clause, ob: OrderBy, n: int) -> list[Hit]:
            direction = models.Direction.ASC if ob.direction == "asc" else models.Direction.DESC
            call = self._client.query_points(
                self._name,
                query=models.OrderByQuery(order_by=models.OrderBy(key=ob.field, direction=direction)),
                query_filter=codec.to_filter(c),
                limit=n,
                with_payload=wanted,
            )
            response = await self._run("scroll", call)
            return [codec.to_hit(p, float(p.order_value or 0.0), with_payload) for p in response.points]

        return await scroll_page(
            self._spec, by_id, by_value, clause, order_by, limit=limit, offset=offset, cursor=cursor
        )

    async def count(self, filter: SearchFilter | None = None) -> int:
        self._dimension()
        call = self._client.count(self._name, count_filter=codec.to_filter(lower(filter)), exact=True)
        return (await self._run("count", call)).count

    async def facets(
        self, field: str, *, filter: SearchFilter | None = None, limit: int = 20
    ) -> list[FacetCount]:
        self._dimension()
        check_facet_field(self._spec, field)
        call = self._client.facet(
            self._name,
            field,
            facet_filter=codec.to_filter(lower(filter)),
            limit=FACET_FETCH_LIMIT,
            exact=True,
        )
        response = await self._run("facet", call)
        return sort_facets([FacetCount(h.value, h.count) for h in response.hits], limit)

    # ------------------------------------------------------------------ plumbing

    def _dimension(self) -> int:
        if self._meta is None:
            raise ConfigurationError(
                f"qdrant collection {self._name!r} is not open: call ensure_collection() first"
            )
        return self._meta.dimension

    async def _run(self, operation: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except AvsError:
            raise
        except Exception as exc:
            raise codec.translate(exc, operation) from exc
