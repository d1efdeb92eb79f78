"""Neutral types ↔ ``qdrant_client.models``, and client errors → ``avs_shared.errors``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypedDict

import httpx
from qdrant_client import models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from avs_shared.errors import AvsError, ConfigurationError, Conflict, NotFound, Permanent, Retryable
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

try:  # gRPC is optional in qdrant-client
    import grpc
except ImportError:  # pragma: no cover
    grpc = None


def index_schema(kind: FieldKind) -> models.PayloadSchemaType | models.PayloadSchemaParams:
    if kind is FieldKind.TEXT:
        return models.TextIndexParams(
            type=models.TextIndexType.TEXT, tokenizer=models.TokenizerType.WORD, lowercase=True
        )
    if kind is FieldKind.INTEGER:
        return models.IntegerIndexParams(type=models.IntegerIndexType.INTEGER, lookup=True, range=True)
    return {
        FieldKind.KEYWORD: models.PayloadSchemaType.KEYWORD,
        FieldKind.FLOAT: models.PayloadSchemaType.FLOAT,
        FieldKind.BOOL: models.PayloadSchemaType.BOOL,
    }[kind]


def to_filter(clause: Clause) -> models.Filter | None:
    if is_empty(clause):
        return None
    return _filter(clause)


def _filter(clause: Clause) -> models.Filter:
    return models.Filter(
        must=[_condition(c) for c in clause.must] or None,
        should=[_condition(c) for c in clause.should] or None,
        must_not=[_condition(c) for c in clause.must_not] or None,
    )


def _condition(c: Condition) -> models.Condition:
    if isinstance(c, Match):
        return models.FieldCondition(key=c.field, match=models.MatchValue(value=c.value))
    if isinstance(c, MatchAny):
        return models.FieldCondition(key=c.field, match=models.MatchAny(any=list(c.values)))
    if isinstance(c, Range):
        return models.FieldCondition(key=c.field, range=models.Range(gte=c.gte, gt=c.gt, lte=c.lte, lt=c.lt))
    if isinstance(c, MatchText):
        return models.FieldCondition(key=c.field, match=models.MatchText(text=c.text))
    if isinstance(c, IsEmpty):
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=c.field))
    if isinstance(c, HasId):
        return models.HasIdCondition(has_id=list(c.ids))
    return _filter(c)


class QueryArgs(TypedDict, total=False):
    """Keyword arguments of ``AsyncQdrantClient.query_points`` that a search sets."""

    query: models.Query | list[float] | models.SparseVector
    using: str
    prefetch: list[models.Prefetch]
    query_filter: models.Filter | None
    limit: int
    score_threshold: float | None
    search_params: models.SearchParams | None
    with_payload: bool | list[str]


def search_request(
    query: DenseQuery | SparseQuery | HybridQuery,
    qfilter: models.Filter | None,
    score_threshold: float | None,
    wanted: bool | list[str],
    idf_params: models.SearchParams | None,
) -> Callable[[int], QueryArgs] | None:
    """A ``query_points`` argument factory taking the number of hits; None if nothing can match.

    Sparse queries arrive with their vector resolved (``resolve_sparse``).
    """
    common: QueryArgs = {"query_filter": qfilter, "score_threshold": score_threshold, "with_payload": wanted}
    if isinstance(query, HybridQuery):
        prefetch = [
            models.Prefetch(query=list(d.vector), using=d.using, filter=qfilter, limit=query.candidates)
            for d in query.dense
        ]
        sparse = query.sparse
        if sparse is not None and sparse.vector is not None and sparse.vector.indices:
            prefetch.append(
                models.Prefetch(
                    query=to_sparse(sparse.vector),
                    using=sparse.using,
                    filter=qfilter,
                    limit=query.candidates,
                    params=idf_params,
                )
            )
        if not prefetch:
            return None
        fusion = models.RrfQuery(rrf=models.Rrf(k=query.rrf_k))
        return lambda n: {**common, "prefetch": prefetch, "query": fusion, "limit": n}
    if isinstance(query, DenseQuery):
        dense, using = list(query.vector), query.using
        return lambda n: {**common, "query": dense, "using": using, "limit": n}
    vector = query.vector
    if vector is None or not vector.indices:
        return None
    sparse_vector, using = to_sparse(vector), query.using
    return lambda n: {
        **common,
        "query": sparse_vector,
        "using": using,
        "search_params": idf_params,
        "limit": n,
    }


def to_point(p: PreparedPoint) -> models.PointStruct:
    vectors: dict[str, list[float] | models.SparseVector] = dict(p.dense)
    for name, sv in p.sparse.items():
        vectors[name] = to_sparse(sv)
    return models.PointStruct(id=p.id, vector=vectors, payload=p.payload)


def to_sparse(sv: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(sv.indices), values=list(sv.values))


def point_id(raw: object) -> str:
    return str(uuid.UUID(str(raw)))


def to_hit(point: models.ScoredPoint | models.Record, score: float, wanted: WithPayload) -> Hit:
    payload: dict[str, JsonValue] | None = None if wanted is False else dict(point.payload or {})
    return Hit(point_id(point.id), score, payload)


def to_vector_point(record: models.Record, with_vectors: bool) -> VectorPoint:
    dense, sparse = split_vectors(record.vector if with_vectors else None, models.SparseVector)
    return VectorPoint(
        id=point_id(record.id), vectors=dense, sparse=sparse, payload=dict(record.payload or {})
    )


def stored_dense(record: models.Record, name: str) -> list[float] | None:
    raw = record.vector
    return dense_vector(raw.get(name) if isinstance(raw, dict) else None)


_RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def translate(exc: BaseException, operation: str) -> AvsError:
    """The ``avs_shared.errors`` counterpart of a qdrant-client failure."""
    message = f"qdrant {operation} failed: {exc}"
    if isinstance(exc, AvsError):
        return exc
    if isinstance(exc, UnexpectedResponse):
        status = exc.status_code
        if status == 404:
            return NotFound(message)
        if status == 409:
            return Conflict(message)
        if status in (401, 403):
            return ConfigurationError(message + " (check the Qdrant URL and API key)")
        if status in _RETRY_STATUSES:
            retry_after = exc.headers.get("retry-after") if exc.headers else None
            return Retryable(message, retry_after_s=_seconds(retry_after, 5.0))
        return Permanent(message)
    if isinstance(
        exc, ResponseHandlingException | httpx.TransportError | ConnectionError | TimeoutError | OSError
    ):
        return Retryable(message, retry_after_s=5.0)
    if grpc is not None and isinstance(exc, grpc.RpcError):
        code = exc.code() if hasattr(exc, "code") else None
        if code in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        ):
            return Retryable(message, retry_after_s=5.0)
        if code == grpc.StatusCode.NOT_FOUND:
            return NotFound(message)
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return ConfigurationError(message)
        return Permanent(message)
    # Local mode and request validation raise ValueError/KeyError/pydantic errors: bad input.
    if isinstance(exc, ValueError | KeyError | TypeError):
        return Permanent(message)
    return Retryable(message, retry_after_s=5.0)


def _seconds(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default
