"""Curated lists, ``/popular`` and ``/top-rated``: precomputed in Redis, computed on a miss.

The lists are read from the vector payload (``popularity``, ``score``) with ordered
scrolls, so no DynamoDB scan is needed. The ``curated-lists-refresh`` job (every 12
hours, see ``avs_api.jobs``) recomputes all four variants and stores them in Redis;
a request finding no list (first start, expired key, Redis flushed or down) computes
it on demand and stores it. Redis keeps a list longer than the refresh period
(``curated_list_ttl_seconds``, 36 h by default), so a failed run serves the previous
list rather than computing on every request.

Redis keys (JSON ``{"list", "include_orphaned", "generated_at", "items": [...]}``):

* ``curated:popular:active``, ``curated:popular:all``
* ``curated:top-rated:active``, ``curated:top-rated:all``

``active`` hides orphaned anime; ``all`` (``include_orphaned=true``) shows them too.

Orders
------
``popular``
    ``popularity`` (members on the largest provider) descending; anime without a
    known popularity (0) are not listed. Ties: score descending, then id.
``top-rated``
    ``score`` descending; anime without a score are not listed. The payload has no
    ``scored_by``, so a minimum popularity (``top_rated_min_popularity`` members)
    stands in for "enough people scored it". Ties: popularity descending, then id.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog

from avs_api.http_cache import dumps
from avs_api.lookups import SUMMARY_FIELDS, anime_summary
from avs_api.settings import ApiSettings
from avs_shared.ports.storage import Cache
from avs_shared.ports.vector import Condition, Hit, OrderBy, Range, SearchFilter, StatusScope, VectorIndex
from avs_shared.schema import format_utc_datetime

log = structlog.get_logger(__name__)

CURATED_KEY_PREFIX = "curated:"
_SCROLL_PAGE = 100

IndexProvider = Callable[[], Awaitable[VectorIndex]]
"""Opens the index only when a list must be computed (a stored list needs no index)."""


class ListKind(StrEnum):
    POPULAR = "popular"
    TOP_RATED = "top-rated"


@dataclass(frozen=True)
class ListConfig:
    """Size of each precomputed list, its Redis TTL and the top-rated popularity floor.

    An empty list (an empty catalogue, e.g. right before the first bootstrap) is kept
    only ``empty_ttl_s``, so a catalogue loaded after it shows up within minutes.
    """

    size: int = 500
    ttl_s: int = 36 * 3600
    top_rated_min_popularity: int = 1000
    empty_ttl_s: int = 300

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> ListConfig:
        return cls(
            size=settings.curated_list_size,
            ttl_s=settings.curated_list_ttl_seconds,
            top_rated_min_popularity=settings.top_rated_min_popularity,
        )


def list_key(kind: ListKind, *, include_orphaned: bool) -> str:
    """``curated:<kind>:active`` or ``curated:<kind>:all``."""
    return f"{CURATED_KEY_PREFIX}{kind}:{'all' if include_orphaned else 'active'}"


def _num(payload: dict[str, Any] | None, name: str) -> float:
    value = (payload or {}).get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _popular_key(hit: Hit) -> tuple[float, float, str]:
    return (-_num(hit.payload, "popularity"), -_num(hit.payload, "score"), hit.id)


def _top_rated_key(hit: Hit) -> tuple[float, float, str]:
    return (-_num(hit.payload, "score"), -_num(hit.payload, "popularity"), hit.id)


async def compute_list(
    index: VectorIndex,
    kind: ListKind,
    *,
    include_orphaned: bool,
    config: ListConfig,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The list document, read from the index now (the first ``config.size`` anime)."""
    must: list[Condition]
    if kind is ListKind.POPULAR:
        order, must, sort_key = OrderBy("popularity", "desc"), [Range("popularity", gt=0)], _popular_key
    else:
        floor = config.top_rated_min_popularity
        must = [Range("popularity", gte=floor)] if floor > 0 else []
        order, sort_key = OrderBy("score", "desc"), _top_rated_key
    search_filter = SearchFilter(
        must=must, status=StatusScope.ANY if include_orphaned else StatusScope.ACTIVE
    )
    hits: list[Hit] = []
    cursor: str | None = None
    while len(hits) < config.size:
        page = await index.scroll(
            order_by=order,
            filter=search_filter,
            limit=min(_SCROLL_PAGE, config.size - len(hits)),
            cursor=cursor,
            with_payload=list(SUMMARY_FIELDS),
        )
        hits.extend(page.hits)
        cursor = page.next_cursor
        if cursor is None or not page.hits:
            break
    # The index breaks ties of the order value by id; the secondary key reads better.
    hits.sort(key=sort_key)
    return {
        "list": str(kind),
        "include_orphaned": include_orphaned,
        "generated_at": format_utc_datetime(now or datetime.now(UTC)),
        "items": [anime_summary(hit.id, hit.payload) for hit in hits],
    }


async def load_list(cache: Cache, kind: ListKind, *, include_orphaned: bool) -> dict[str, Any] | None:
    """The stored list, or None when absent, unreadable or Redis is down."""
    raw = await cache.get(list_key(kind, include_orphaned=include_orphaned))
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    if (
        not isinstance(doc, dict)
        or doc.get("list") != kind
        or doc.get("include_orphaned") is not include_orphaned
        or not isinstance(doc.get("items"), list)
    ):
        return None
    return doc


async def store_list(cache: Cache, doc: dict[str, Any], *, config: ListConfig) -> None:
    kind = ListKind(doc["list"])
    key = list_key(kind, include_orphaned=bool(doc["include_orphaned"]))
    await cache.set(key, dumps(doc), ttl_s=config.ttl_s if doc["items"] else config.empty_ttl_s)


async def curated_list(
    kind: ListKind, *, include_orphaned: bool, cache: Cache, index: IndexProvider, config: ListConfig
) -> dict[str, Any]:
    """The precomputed list from Redis; on a miss computed now and stored."""
    doc = await load_list(cache, kind, include_orphaned=include_orphaned)
    if doc is None:
        doc = await compute_list(await index(), kind, include_orphaned=include_orphaned, config=config)
        await store_list(cache, doc, config=config)
        log.info("curated list computed on demand", list=str(kind), items=len(doc["items"]))
    return doc


def list_page(doc: dict[str, Any], *, limit: int, offset: int) -> dict[str, Any]:
    """One page of a list document, each item with its 1-based ``rank``."""
    items: list[dict[str, Any]] = doc["items"]
    window = items[offset : offset + limit]
    end = offset + len(window)
    return {
        "list": doc["list"],
        "include_orphaned": doc["include_orphaned"],
        "generated_at": doc.get("generated_at"),
        "total": len(items),
        "limit": limit,
        "offset": offset,
        "next_offset": end if end < len(items) else None,
        "items": [{"rank": offset + i + 1, **item} for i, item in enumerate(window)],
    }


async def refresh_curated_lists(
    *, index: VectorIndex, cache: Cache, config: ListConfig, now: datetime | None = None
) -> dict[str, int]:
    """Recompute and store every list variant; returns ``{redis key: items}``.

    Each variant is stored as soon as it is computed, so a failure midway leaves the
    earlier ones fresh and the rest at their previous value.
    """
    now = now or datetime.now(UTC)
    written: dict[str, int] = {}
    for kind in ListKind:
        for include_orphaned in (False, True):
            doc = await compute_list(index, kind, include_orphaned=include_orphaned, config=config, now=now)
            await store_list(cache, doc, config=config)
            written[list_key(kind, include_orphaned=include_orphaned)] = len(doc["items"])
    log.info("curated lists refreshed", lists=written)
    return written
