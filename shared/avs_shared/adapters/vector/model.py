"""What the collection looks like, independent of the engine that stores it.

Both adapters build the collection from one :class:`CollectionSpec` and record
one :class:`CollectionMetadata` with it, and share the engine-independent steps of
reads (ids, result order, similar-to queries, how records become vectors), so the
two can only differ in how they talk to their engine.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from avs_shared.errors import Conflict, NotFound, Permanent
from avs_shared.ports.vector import (
    BM25_VECTOR,
    COLLECTION,
    TAGS_VECTOR,
    TEXT_VECTOR,
    Clause,
    DenseQuery,
    FacetCount,
    HasId,
    Hit,
    HybridQuery,
    JsonValue,
    SimilarTo,
    SparseQuery,
    SparseVector,
    VectorPoint,
    WithPayload,
)

from .sparse import Bm25Encoder


class FieldKind(StrEnum):
    """Payload index types (the subset of Qdrant's that the collection uses)."""

    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"
    TEXT = "text"  # word tokenizer, lowercased: what qdrant-client's local mode reproduces


#: Every filterable field of ``anime`` and its index. ``score`` and ``popularity``
#: are float indexes because their sources mix integers and decimals (a float
#: index accepts both; an integer index would silently skip 7.5).
ANIME_PAYLOAD_INDEXES: Mapping[str, FieldKind] = {
    "title": FieldKind.TEXT,
    "synonyms": FieldKind.TEXT,
    "name_keys": FieldKind.KEYWORD,
    "type": FieldKind.KEYWORD,
    "status": FieldKind.KEYWORD,
    "season": FieldKind.KEYWORD,
    "genres": FieldKind.KEYWORD,
    "tags": FieldKind.KEYWORD,
    "studios": FieldKind.KEYWORD,
    "rating": FieldKind.KEYWORD,
    "system_status": FieldKind.KEYWORD,
    "year": FieldKind.INTEGER,
    "episodes": FieldKind.INTEGER,
    "score": FieldKind.FLOAT,
    "popularity": FieldKind.FLOAT,
    "nsfw": FieldKind.BOOL,
}


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """Names and indexes of a collection; dimension and model come at run time."""

    name: str = COLLECTION
    dense_vectors: tuple[str, ...] = (TEXT_VECTOR, TAGS_VECTOR)
    sparse_vectors: tuple[str, ...] = (BM25_VECTOR,)
    payload_indexes: Mapping[str, FieldKind] = field(default_factory=lambda: dict(ANIME_PAYLOAD_INDEXES))


ANIME_COLLECTION = CollectionSpec()
#: Threads of a Qdrant Edge shard's search pool (``EdgeVectorIndex``'s ``search_threads``).
DEFAULT_SEARCH_THREADS = 1


@dataclass(frozen=True, slots=True)
class CollectionMetadata:
    """What the stored vectors were made with; a mismatch means re-indexing.

    Stored as a JSON file next to the edge shard, and as Qdrant collection
    metadata on a server.
    """

    embedding_model: str
    dimension: int
    sparse_encoder: str

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "embedding_model": self.embedding_model,
            "dimension": self.dimension,
            "sparse_encoder": self.sparse_encoder,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> CollectionMetadata | None:
        model, dimension, encoder = (
            data.get("embedding_model"),
            data.get("dimension"),
            data.get("sparse_encoder"),
        )
        if not isinstance(model, str) or not isinstance(dimension, int) or not isinstance(encoder, str):
            return None
        return cls(model, dimension, encoder)

    def check_compatible(self, stored: CollectionMetadata | None, where: str) -> None:
        """Raise ``Conflict`` naming the difference between ``stored`` and ``self``."""
        if stored == self:
            return
        if stored is None:
            raise Conflict(
                f"{where} exists but records no embedding model; it was not built by this service. "
                "Call ensure_collection(..., recreate=True) to rebuild it (this deletes its points)."
            )
        raise Conflict(
            f"{where} was built with model {stored.embedding_model!r} (dimension {stored.dimension}, "
            f"sparse {stored.sparse_encoder!r}) but this service uses {self.embedding_model!r} "
            f"(dimension {self.dimension}, sparse {self.sparse_encoder!r}). Re-index with "
            "ensure_collection(..., recreate=True) or configure the model it was built with."
        )


def canonical_id(point_id: str | uuid.UUID) -> str:
    """The point id as a lowercase hyphenated UUID; ``Permanent`` if it is not one."""
    if isinstance(point_id, uuid.UUID):
        return str(point_id)
    try:
        return str(uuid.UUID(point_id))
    except (ValueError, AttributeError, TypeError) as exc:
        raise Permanent(f"point id {point_id!r} is not a UUID (anime_id must be one)") from exc


def canonical_ids(point_ids: Sequence[str]) -> list[str]:
    return [canonical_id(pid) for pid in point_ids]


_TIE_DECIMALS = 6


def sort_hits(hits: Sequence[Hit]) -> list[Hit]:
    """Order by score desc, then id: the edge shard computes in float32, the server in
    float64 and both break exact ties arbitrarily, so equal scores (to 1e-6) fall back
    to the id to make both adapters return the same order."""
    return sorted(hits, key=lambda h: (-round(h.score, _TIE_DECIMALS), h.id))


def resolve_sparse(
    query: DenseQuery | SparseQuery | HybridQuery, encoder: Bm25Encoder
) -> DenseQuery | SparseQuery | HybridQuery:
    """The query with every ``SparseQuery.text`` encoded (query side: weight 1 per token)."""
    if isinstance(query, SparseQuery) and query.vector is None:
        return replace(query, text=None, vector=encoder.encode_query(query.text or ""))
    if isinstance(query, HybridQuery) and query.sparse is not None:
        return replace(query, sparse=resolve_sparse(query.sparse, encoder))  # type: ignore[arg-type]
    return query


def similar_query(
    query: SimilarTo, anchor: str, stored: list[float] | None, clause: Clause
) -> tuple[DenseQuery, Clause]:
    """The dense query a :class:`SimilarTo` stands for: the ``anchor`` point's ``stored``
    vector, searched under ``clause`` without the anchor itself."""
    if stored is None:
        raise NotFound(f"point {anchor} has no {query.using!r} vector to search from")
    clause = Clause(must=clause.must, should=clause.should, must_not=(*clause.must_not, HasId([anchor])))
    return DenseQuery(stored, query.using), clause


def payload_selector(selector: WithPayload) -> bool | list[str]:
    """The engines' payload selector: all of it, none, or these keys."""
    return selector if isinstance(selector, bool) else list(selector)


def dense_vector(raw: object) -> list[float] | None:
    """``raw`` as a dense vector; None when it is not one (absent, or a sparse vector)."""
    if isinstance(raw, list) and all(isinstance(x, float | int) for x in raw):
        return [float(x) for x in raw]
    return None


def split_vectors(
    raw: object, sparse_type: type[Any]
) -> tuple[dict[str, list[float]], dict[str, SparseVector]]:
    """A record's named vectors as ``(dense, sparse)``; ``sparse_type`` is the engine's class."""
    dense: dict[str, list[float]] = {}
    sparse: dict[str, SparseVector] = {}
    if isinstance(raw, dict):
        for name, vec in raw.items():
            if isinstance(vec, sparse_type):
                sparse[name] = SparseVector(list(vec.indices), [float(v) for v in vec.values])
            elif (values := dense_vector(vec)) is not None:
                dense[name] = values
    return dense, sparse


_TIE_SLACK = 16
_TIE_MAX_FETCH = 10_000


def first_fetch(*, offset: int, limit: int) -> int:
    """How many hits :func:`tie_stable_page` asks ``fetch`` for first (a batch can fetch them ahead)."""
    return offset + limit + _TIE_SLACK


async def tie_stable_page(
    fetch: Callable[[int], Awaitable[list[Hit]]], *, offset: int, limit: int
) -> list[Hit]:
    """``hits[offset:offset+limit]`` in :func:`sort_hits` order, whatever the engine's tie order.

    An engine returns the top ``n`` by score but picks arbitrarily among points tied
    at the cut. Fetching a few more than needed and, while the tie at the page's
    last place runs to the end of what was fetched, fetching more, makes the page
    the same on both engines (and stable between calls).
    """
    want = offset + limit
    n = first_fetch(offset=offset, limit=limit)
    while True:
        hits = sort_hits(await fetch(n))
        if len(hits) < n or want == 0 or n >= _TIE_MAX_FETCH or len(hits) < want:
            break
        if round(hits[want - 1].score, _TIE_DECIMALS) != round(hits[-1].score, _TIE_DECIMALS):
            break
        n = min(n * 4, _TIE_MAX_FETCH)
    return hits[offset:want]


def sort_facets(hits: Sequence[FacetCount], limit: int) -> list[FacetCount]:
    """Count desc, then value: a total order, so truncation at ``limit`` agrees too."""
    return sorted(hits, key=lambda f: (-f.count, str(type(f.value)), f.value))[:limit]


@dataclass(frozen=True, slots=True)
class PreparedPoint:
    """A point checked against the collection and with its sparse texts encoded."""

    id: str
    dense: dict[str, list[float]]
    sparse: dict[str, SparseVector]
    payload: dict[str, JsonValue]


def prepare_points(
    points: Sequence[VectorPoint], spec: CollectionSpec, dimension: int, encoder: Bm25Encoder
) -> list[PreparedPoint]:
    """Validate names and dimensions up front (both engines then see only good input,
    and a bad point fails the same way on both) and encode ``sparse_texts``."""
    prepared: list[PreparedPoint] = []
    for point in points:
        pid = canonical_id(point.id)
        dense: dict[str, list[float]] = {}
        for name, vector in point.vectors.items():
            if name not in spec.dense_vectors:
                raise Permanent(f"point {pid}: unknown dense vector {name!r} (have {spec.dense_vectors})")
            if len(vector) != dimension:
                raise Permanent(
                    f"point {pid}: vector {name!r} has {len(vector)} dimensions, expected {dimension}"
                )
            dense[name] = list(map(float, vector))
        sparse: dict[str, SparseVector] = {}
        for name, texts in point.sparse_texts.items():
            sparse[name] = encoder.encode_document(texts)
        sparse.update(point.sparse)
        for name in sparse:
            if name not in spec.sparse_vectors:
                raise Permanent(f"point {pid}: unknown sparse vector {name!r} (have {spec.sparse_vectors})")
        # An empty sparse vector carries no terms; leaving it out keeps IDF statistics
        # (documents that have the vector) the same on every engine.
        sparse = {name: vec for name, vec in sparse.items() if vec.indices}
        prepared.append(PreparedPoint(pid, dense, sparse, dict(point.payload)))
    return prepared


def order_field_kind(spec: CollectionSpec, field_name: str) -> FieldKind:
    """The index kind of an order_by field; ``Permanent`` unless integer or float."""
    kind = spec.payload_indexes.get(field_name)
    if kind not in (FieldKind.INTEGER, FieldKind.FLOAT):
        raise Permanent(
            f"cannot order by {field_name!r}: only integer/float indexed fields can order results"
        )
    return kind


def check_facet_field(spec: CollectionSpec, field_name: str) -> None:
    if spec.payload_indexes.get(field_name) not in (FieldKind.KEYWORD, FieldKind.INTEGER, FieldKind.BOOL):
        raise Permanent(f"cannot facet {field_name!r}: only keyword/integer/bool indexed fields have facets")


#: Facets are fetched in full and truncated here, after sorting, so that ties at the
#: limit are broken the same way on every engine.
FACET_FETCH_LIMIT = 10_000
