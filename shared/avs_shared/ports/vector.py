"""The ``VectorIndex`` port: the Qdrant collection ``anime`` as handlers see it.

Everything here is vendor-neutral and independent of the ``AnimeEntry`` schema: a
point is an id, named dense vectors, named sparse vectors (or the texts to encode
into them) and a JSON payload. Three adapters implement the port and a congruence
suite runs the same assertions against each:

* ``avs_shared.adapters.vector.edge.EdgeVectorIndex`` - Qdrant Edge, in-process;
* ``avs_shared.adapters.vector.edge_process.EdgeProcessIndex`` - the same, in a worker
  process of its own (the embedded default);
* ``avs_shared.adapters.vector.qdrant_server.QdrantServerVectorIndex`` - a Qdrant
  server (or qdrant-client's local mode) through ``AsyncQdrantClient``.

Orderings are total so that both adapters return the same pages: search results
are ordered by score, then by id; ordered scrolls by the payload value, then by id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol, TypeAlias

from avs_shared.errors import Conflict

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
Payload: TypeAlias = Mapping[str, JsonValue]

#: Names in the collection ``anime`` (the public contract, see ARCHITECTURE.md).
COLLECTION = "anime"
TEXT_VECTOR = "text"  # titles + synopsis + background
TAGS_VECTOR = "tags"  # genres, tags, themes, characters
BM25_VECTOR = "bm25"  # sparse, over titles and synonyms
SYSTEM_STATUS_FIELD = "system_status"
ORPHANED = "ORPHANED"


class IndexOwnedElsewhere(Conflict):
    """An embedded index is open in another process (one owner per shard)."""


@dataclass(frozen=True, slots=True)
class SparseVector:
    """A sparse vector: parallel lists of unique dimension indices and values."""

    indices: list[int]
    values: list[float]

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            raise ValueError("sparse vector indices and values differ in length")
        if len(set(self.indices)) != len(self.indices):
            raise ValueError("sparse vector indices must be unique")


@dataclass(frozen=True, slots=True)
class VectorPoint:
    """One point of the collection.

    Parameters
    ----------
    id:
        The ``anime_id`` (a UUID string).
    vectors:
        Named dense vectors, e.g. ``{"text": [...], "tags": [...]}``.
    sparse:
        Named sparse vectors, already encoded.
    payload:
        The filterable payload (title, synonyms, type, status, year, ...).
    sparse_texts:
        Texts the adapter encodes into the named sparse vector with the
        collection's own BM25 encoder, e.g. ``{"bm25": [title, *synonyms]}``, so
        handlers never need the encoder. An explicit ``sparse`` entry of the same
        name wins. Points read back carry ``sparse`` only.
    """

    id: str
    vectors: Mapping[str, Sequence[float]] = field(default_factory=dict)
    sparse: Mapping[str, SparseVector] = field(default_factory=dict)
    payload: Payload = field(default_factory=dict)
    sparse_texts: Mapping[str, Sequence[str]] = field(default_factory=dict)


# ----------------------------------------------------------------------------- filters


@dataclass(frozen=True, slots=True)
class Match:
    """``field`` equals ``value`` (for an array field: one of its elements does)."""

    field: str
    value: str | int | bool


@dataclass(frozen=True, slots=True)
class MatchAny:
    """``field`` equals any of ``values``."""

    field: str
    values: Sequence[str] | Sequence[int]


@dataclass(frozen=True, slots=True)
class Range:
    """A numeric range on ``field``; unset bounds are open."""

    field: str
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None


@dataclass(frozen=True, slots=True)
class MatchText:
    """Every word of ``text`` occurs in the full-text indexed ``field`` (title, synonyms)."""

    field: str
    text: str


@dataclass(frozen=True, slots=True)
class IsEmpty:
    """``field`` is missing, null or an empty array."""

    field: str


@dataclass(frozen=True, slots=True)
class HasId:
    """The point id is one of ``ids``."""

    ids: Sequence[str]


@dataclass(frozen=True, slots=True)
class Clause:
    """A nested boolean group, usable as a condition (e.g. an OR of ANDs)."""

    must: Sequence[Condition] = ()
    should: Sequence[Condition] = ()
    must_not: Sequence[Condition] = ()


Condition: TypeAlias = "Match | MatchAny | Range | MatchText | IsEmpty | HasId | Clause"


class StatusScope(StrEnum):
    """Which points a read sees, by ``system_status``.

    ``ACTIVE`` (the default everywhere) hides orphaned anime; a point without a
    ``system_status`` counts as active. ``ORPHANED`` shows only orphaned ones,
    ``ANY`` shows everything (operator views, sync).
    """

    ACTIVE = "active"
    ORPHANED = "orphaned"
    ANY = "any"


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """must (all), should (at least one), must_not (none) plus the status scope."""

    must: Sequence[Condition] = ()
    should: Sequence[Condition] = ()
    must_not: Sequence[Condition] = ()
    status: StatusScope = StatusScope.ACTIVE


# ----------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class DenseQuery:
    """Nearest neighbours of ``vector`` on the named dense vector ``using``."""

    vector: Sequence[float]
    using: str = TEXT_VECTOR


@dataclass(frozen=True, slots=True)
class SparseQuery:
    """BM25 search: give ``text`` (encoded by the adapter) or a ready ``vector``.

    ``segment_idf``: let a Qdrant Edge shard weigh terms by the statistics its segments
    hold, which still count deleted and replaced points until they are optimised,
    instead of counting the live points per query (0.24 against 0.62 ms per query on
    40,000 anime). For a ranking whose scores nobody sees and where that drift cannot
    matter, such as finding a handful of candidates; a Qdrant server ignores it.
    """

    text: str | None = None
    vector: SparseVector | None = None
    using: str = BM25_VECTOR
    segment_idf: bool = False

    def __post_init__(self) -> None:
        if (self.text is None) == (self.vector is None):
            raise ValueError("SparseQuery needs exactly one of text or vector")


@dataclass(frozen=True, slots=True)
class HybridQuery:
    """Dense and sparse candidates fused with Reciprocal Rank Fusion.

    Each sub-query fetches ``candidates`` points (under the same filter); a point
    scores ``sum(1 / (rrf_k + rank))`` over the lists it appears in (rank from 0).
    ``rrf_k=60`` is the value from the RRF paper; Qdrant's own default is 2, which
    lets the top one or two ranks dominate. Fusion runs in the engine (one request);
    candidates tied on score are ranked in the engine's own order, so only there can
    the two adapters give different fused results.
    """

    dense: Sequence[DenseQuery] = ()
    sparse: SparseQuery | None = None
    candidates: int = 100
    rrf_k: int = 60


@dataclass(frozen=True, slots=True)
class SimilarTo:
    """Points near the stored ``using`` vector of ``point_id``; the anchor is excluded.

    Raises :class:`avs_shared.errors.NotFound` if the point (or that vector) is absent.
    """

    point_id: str
    using: str = TEXT_VECTOR


SearchQuery: TypeAlias = DenseQuery | SparseQuery | HybridQuery | SimilarTo


@dataclass(frozen=True, slots=True)
class OrderBy:
    """Order by a numeric payload field; ties are broken by point id (ascending)."""

    field: str
    direction: Literal["asc", "desc"] = "desc"


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Hit:
    """One result. ``score`` is the similarity (search) or the order value (scroll)."""

    id: str
    score: float
    payload: dict[str, JsonValue] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """A page of an ordered scroll; pass ``next_cursor`` back for the next one."""

    hits: list[Hit]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class FacetCount:
    value: str | int | bool
    count: int


@dataclass(frozen=True, slots=True)
class IndexHealth:
    ok: bool
    backend: str
    points: int | None = None
    detail: str = ""


WithPayload: TypeAlias = bool | Sequence[str]


@dataclass(frozen=True, slots=True)
class Search:
    """One search of a :meth:`VectorIndex.search_many` batch: the arguments of ``search``."""

    query: SearchQuery
    filter: SearchFilter | None = None
    limit: int = 10
    offset: int = 0
    score_threshold: float | None = None
    with_payload: WithPayload = True


class VectorIndex(Protocol):
    """The vector collection (``anime``): points, search, structured reads.

    Every method is async and raises only :mod:`avs_shared.errors`: ``Retryable``
    (engine unreachable, overloaded), ``Permanent`` (bad input such as a wrong
    dimension or a malformed id), ``NotFound``, ``Conflict`` (the collection was
    built with another model, or another process owns the edge shard) and
    ``ConfigurationError`` (used before :meth:`ensure_collection`, bad credentials).
    """

    async def ensure_collection(self, model_name: str, dimension: int, *, recreate: bool = False) -> None:
        """Create the collection (vectors, sparse BM25 with IDF, payload indexes) or check it.

        Records ``model_name``, ``dimension`` and the BM25 encoder identity with the
        collection. If an existing collection was built differently this raises
        ``Conflict`` unless ``recreate=True``, which drops and rebuilds it empty.
        Idempotent; must be called before any other method.
        """
        ...

    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        """Insert or replace whole points (idempotent: a repeat changes nothing)."""
        ...

    async def set_payload(self, point_ids: Sequence[str], payload: Payload) -> list[str]:
        """Merge ``payload`` into the payload of existing points (vectors untouched).

        Idempotent; used for orphaning (``system_status``, ``orphaned_at``). Returns
        the ids that do not exist (those are skipped, not created).
        """
        ...

    async def delete(self, point_ids: Sequence[str]) -> None:
        """Delete points; absent ids are ignored."""
        ...

    async def get(self, point_ids: Sequence[str], *, with_vectors: bool = False) -> list[VectorPoint]:
        """The points that exist, in the order asked for (dense vectors come back normalised)."""
        ...

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
        """Dense, sparse, hybrid (RRF) or similar-to-point search under ``filter``."""
        ...

    async def search_many(self, searches: Sequence[Search]) -> list[list[Hit]]:
        """Several independent searches, one result list each, in order.

        Each list is exactly what ``search(**fields of that Search)`` returns. An
        engine that can plan them as one batch does (one pass over its segments, one
        round trip), which costs less than the searches one by one.
        """
        ...

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
        """Points under ``filter`` ordered by ``order_by`` (then id), or by id if None.

        Paginate with ``offset`` (cost grows with it) or with the opaque
        ``cursor`` of the previous page (constant cost), not both. Points missing
        the order field are not listed. ``Hit.score`` is the order value (0 when
        ordering by id).
        """
        ...

    async def count(self, filter: SearchFilter | None = None) -> int:
        """Exact number of points under ``filter``."""
        ...

    async def facets(
        self, field: str, *, filter: SearchFilter | None = None, limit: int = 20
    ) -> list[FacetCount]:
        """Value counts of a keyword/integer/bool field, by count desc then value."""
        ...

    async def optimize(self) -> None:
        """Build indexes now (edge runs its optimizers; a server does this by itself)."""
        ...

    async def health(self) -> IndexHealth:
        """Whether the index answers; never raises."""
        ...

    async def close(self) -> None:
        """Release the engine (flushes the edge shard, frees its lock)."""
        ...
