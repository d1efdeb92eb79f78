"""Neutral types ↔ ``qdrant_edge`` types, and edge errors → ``avs_shared.errors``."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence

import numpy as np
import qdrant_edge as qe

from avs_shared.errors import AvsError, Conflict, NotFound, Permanent, Retryable
from avs_shared.ports.vector import (
    Clause,
    Condition,
    DenseQuery,
    HasId,
    Hit,
    HybridQuery,
    IsEmpty,
    JsonValue,
    Match,
    MatchAny,
    MatchText,
    Range,
    SparseQuery,
    SparseVector,
    VectorPoint,
    WithPayload,
)

from .filters import is_empty
from .model import FieldKind, PreparedPoint, dense_vector, split_vectors

# Payload indexes without HNSW links of their own. With them (the engine's default), the
# optimiser adds a subgraph of links to the vector graphs for every indexed value held by
# enough points (each genre, tag, studio, year...). Measured on 40,000 anime (2 cores):
# optimize took 68.4 s wall / 85.7 CPU-s with them and 22.1 s / 25.3 CPU-s without; the
# denser graph also made a dense query cost 0.60 instead of 0.28 ms, for recall@10 (against
# exact search) of 1.000 instead of 0.978, and a genre-filtered query about the same
# (0.65 / 0.67 ms). The bulk load waits for optimize, and every hybrid search runs two
# dense queries. Indexes created before this keep their links until recreated.


def index_schema(
    kind: FieldKind,
) -> (
    qe.KeywordIndexParams
    | qe.IntegerIndexParams
    | qe.FloatIndexParams
    | qe.BoolIndexParams
    | qe.TextIndexParams
):
    if kind is FieldKind.TEXT:
        return qe.TextIndexParams(tokenizer=qe.TokenizerType.Word, lowercase=True, enable_hnsw=False)
    if kind is FieldKind.INTEGER:
        return qe.IntegerIndexParams(lookup=True, range=True, enable_hnsw=False)
    if kind is FieldKind.KEYWORD:
        return qe.KeywordIndexParams(enable_hnsw=False)
    if kind is FieldKind.FLOAT:
        return qe.FloatIndexParams(enable_hnsw=False)
    if kind is FieldKind.BOOL:
        return qe.BoolIndexParams(enable_hnsw=False)
    raise ValueError(f"no payload index for {kind}")


def to_filter(clause: Clause) -> qe.Filter | None:
    if is_empty(clause):
        return None
    return _filter(clause)


def _filter(clause: Clause) -> qe.Filter:
    return qe.Filter(
        must=[_condition(c) for c in clause.must] or None,
        should=[_condition(c) for c in clause.should] or None,
        must_not=[_condition(c) for c in clause.must_not] or None,
    )


def _condition(c: Condition) -> qe.FieldCondition | qe.IsEmptyCondition | qe.HasIdCondition | qe.Filter:
    if isinstance(c, Match):
        # qdrant_edge 0.9 reads a Python bool as the integer 1/0, which never matches a
        # bool payload; numpy's bool_ is not an int, so it arrives as a real bool.
        value = np.bool_(c.value) if isinstance(c.value, bool) else c.value
        return qe.FieldCondition(c.field, match=qe.MatchValue(value))  # type: ignore[arg-type]
    if isinstance(c, MatchAny):
        values: list[str] | list[int] = list(c.values)  # type: ignore[assignment]
        return qe.FieldCondition(c.field, match=qe.MatchAny(values))
    if isinstance(c, Range):
        return qe.FieldCondition(c.field, range=qe.RangeFloat(gte=c.gte, gt=c.gt, lte=c.lte, lt=c.lt))
    if isinstance(c, MatchText):
        return qe.FieldCondition(c.field, match=qe.MatchText(c.text))
    if isinstance(c, IsEmpty):
        return qe.IsEmptyCondition(c.field)
    if isinstance(c, HasId):
        return qe.HasIdCondition(set(c.ids))
    return _filter(c)


# IDF over the live points (any corpus filter, even an empty one, selects "live");
# without it the shard reads statistics off its sparse index, which still counts
# deleted and replaced points until a segment is optimised, so scores would drift
# from a server's.
_LIVE_IDF = qe.SearchParams(idf=qe.IdfParams(corpus=qe.Filter()))


def search_request(
    query: DenseQuery | SparseQuery | HybridQuery,
    edge_filter: qe.Filter | None,
    score_threshold: float | None,
    wanted: bool | list[str],
) -> Callable[[int], qe.QueryRequest] | None:
    """A request factory taking the number of hits to fetch; None if nothing can match.

    Sparse queries arrive with their vector resolved (``resolve_sparse``).
    """
    if isinstance(query, HybridQuery):
        prefetches = [
            qe.Prefetch(limit=query.candidates, query=_nearest(d), filter=edge_filter) for d in query.dense
        ]
        if query.sparse is not None and query.sparse.vector is not None and query.sparse.vector.indices:
            prefetches.append(
                qe.Prefetch(
                    limit=query.candidates,
                    query=_nearest(query.sparse),
                    filter=edge_filter,
                    params=None if query.sparse.segment_idf else _LIVE_IDF,
                )
            )
        if not prefetches:
            return None
        fusion = qe.Fusion.Rrf(k=query.rrf_k)
        return lambda n: qe.QueryRequest(
            limit=n,
            prefetches=prefetches,
            query=fusion,  # type: ignore[arg-type]  # the stub's union omits Fusion.Rrf
            filter=edge_filter,
            score_threshold=score_threshold,
            with_payload=wanted,
        )
    if isinstance(query, SparseQuery) and (query.vector is None or not query.vector.indices):
        return None
    nearest = _nearest(query)
    params = _LIVE_IDF if isinstance(query, SparseQuery) and not query.segment_idf else None
    return lambda n: qe.QueryRequest(
        limit=n,
        query=nearest,
        filter=edge_filter,
        score_threshold=score_threshold,
        params=params,
        with_payload=wanted,
    )


def _nearest(query: DenseQuery | SparseQuery) -> qe.Query:
    if isinstance(query, DenseQuery):
        return qe.Query.Nearest(list(query.vector), using=query.using)
    assert query.vector is not None
    return qe.Query.Nearest(to_sparse(query.vector), using=query.using)


def to_point(p: PreparedPoint) -> qe.Point:
    vectors: dict[str, qe.NamedVector] = dict(p.dense)
    for name, sv in p.sparse.items():
        vectors[name] = qe.SparseVector(list(sv.indices), list(sv.values))
    return qe.Point(p.id, vectors, p.payload)


def to_sparse(sv: SparseVector) -> qe.SparseVector:
    return qe.SparseVector(list(sv.indices), list(sv.values))


@functools.lru_cache(maxsize=1 << 16)
def point_id(raw: object) -> str:
    """The canonical id of an engine id. Cached: every search hit needs one, the same ids come
    back again and again, and parsing a UUID costs more than the rest of the hit's conversion."""
    return str(raw) if isinstance(raw, uuid.UUID) else str(uuid.UUID(str(raw)))


def payload_of(raw: dict[str, JsonValue] | None, wanted: WithPayload) -> dict[str, JsonValue] | None:
    if wanted is False:
        return None
    return dict(raw or {})


def select_payload(stored: dict[str, JsonValue], wanted: WithPayload) -> dict[str, JsonValue]:
    """The part of a stored payload a selector asks for (``True``: all of it; else these keys)."""
    if isinstance(wanted, bool):
        return dict(stored) if wanted else {}
    return {key: stored[key] for key in wanted if key in stored}


def to_hit(sp: qe.ScoredPoint | qe.Record, score: float, wanted: WithPayload) -> Hit:
    return Hit(point_id(sp.id), score, payload_of(sp.payload, wanted))


def to_vector_point(record: qe.Record, with_vectors: bool) -> VectorPoint:
    dense, sparse = split_vectors(record.vector if with_vectors else None, qe.SparseVector)
    return VectorPoint(
        id=point_id(record.id), vectors=dense, sparse=sparse, payload=dict(record.payload or {})
    )


def stored_dense(record: qe.Record, name: str) -> list[float] | None:
    raw = record.vector
    return dense_vector(raw.get(name) if isinstance(raw, dict) else None)


# Qdrant's error texts (CollectionError's Display) are the only signal the edge
# bindings give: they raise plain ``Exception``/``ValueError``.
_NOT_FOUND = ("No point with id", "Not found")
_BAD_INPUT = (
    "Wrong input",
    "Bad input",
    "Bad request",
    "Vector dimension error",
    "Validation",
    "Format error",
)


def translate(exc: Exception, operation: str) -> AvsError:
    """The ``avs_shared.errors`` counterpart of an edge engine failure."""
    message = f"qdrant edge {operation} failed: {exc}"
    text = str(exc)
    if isinstance(exc, AvsError):
        return exc
    if any(marker in text for marker in _NOT_FOUND):
        return NotFound(message)
    if "WouldBlock" in text:
        return Conflict(message + " (another process holds the shard)")
    if isinstance(exc, ValueError | TypeError | OverflowError) or any(m in text for m in _BAD_INPUT):
        return Permanent(message)
    # I/O trouble, timeouts, internal service errors: worth another attempt.
    return Retryable(message, retry_after_s=5.0)


def ids_list(ids: Sequence[str]) -> list[qe.PointId]:
    return list(ids)
