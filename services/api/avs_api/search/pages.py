"""Pages of a structured search: engine-ordered scrolls, and the title order kept here.

Numeric sorts (popularity, score, year) are ordered by the index with its keyset
cursor; anime without the sort value follow, by id, so a walk through the pages
visits every match exactly once and agrees with the count. Titles have a full-text
index, not an orderable one, so the title order is built here from one scroll of the
filtered titles per filter, kept in process and rebuilt in the background while in
use (see :data:`TITLE_ORDER_REFRESH_S`).
"""

from __future__ import annotations

import bisect
from typing import Any

from avs_shared.ports.vector import (
    ORPHANED,
    SYSTEM_STATUS_FIELD,
    Hit,
    IsEmpty,
    OrderBy,
    SearchFilter,
    StatusScope,
    VectorIndex,
)

from . import cursor
from .filters import fingerprint, fold, with_condition
from .memo import PerObject, RefreshAhead
from .params import Pagination, SortOrder
from .results import ITEM_FIELDS

#: A title order is rebuilt in the background once older than this, and not served
#: older than the TTL: a scroll of every filtered title costs ~1 s on 40k anime.
TITLE_ORDER_REFRESH_S = 15.0
TITLE_ORDER_TTL_S = 60.0
_SCROLL_BATCH = 10_000

_TITLE_ORDERS: PerObject[VectorIndex, RefreshAhead[str, list[tuple[str, str]]]] = PerObject(
    lambda: RefreshAhead(64, refresh_s=TITLE_ORDER_REFRESH_S, ttl_s=TITLE_ORDER_TTL_S)
)


def forget_title_orders(index: VectorIndex) -> None:
    _TITLE_ORDERS.of(index).clear()


async def ordered_page(
    index: VectorIndex,
    flt: SearchFilter,
    field: str,
    direction: SortOrder,
    pagination: Pagination,
    state: dict[str, Any] | None,
) -> tuple[list[Hit], dict[str, Any] | None]:
    """A page ordered by ``field`` (engine-side, keyset cursor), then the anime without it by id."""
    limit = pagination.limit
    missing = with_condition(flt, must=[IsEmpty(field)])
    hits: list[Hit] = []
    tail_offset, tail_cursor = 0, None
    if state is None or state.get("p") == "v":
        offset = pagination.offset if state is None else 0
        page = await index.scroll(
            order_by=OrderBy(field, direction.value),
            filter=flt,
            limit=limit,
            offset=offset,
            cursor=_str_or_none(state.get("c")) if state else None,
            with_payload=list(ITEM_FIELDS),
        )
        hits = page.hits
        if page.next_cursor is not None:
            return hits, {"p": "v", "c": page.next_cursor}
        if offset and not hits:  # the page starts past the ordered anime: skip into the rest
            ordered = await index.count(with_condition(flt, must_not=[IsEmpty(field)]))
            tail_offset = max(0, offset - ordered)
    elif state.get("p") == "m":
        tail_cursor = _str_or_none(state.get("c"))
    else:
        raise cursor.InvalidCursor("cursor is not one of this search's; repeat the search without it")
    need = limit - len(hits)
    # A full page still probes for one more, so has_more is exact on the last page.
    tail = await index.scroll(
        filter=missing,
        limit=max(need, 1),
        offset=tail_offset,
        cursor=tail_cursor,
        with_payload=list(ITEM_FIELDS),
    )
    if need == 0:
        return hits, ({"p": "m", "c": None} if tail.hits else None)
    hits = hits + tail.hits
    return hits, ({"p": "m", "c": tail.next_cursor} if tail.next_cursor else None)


async def title_order(index: VectorIndex, flt: SearchFilter) -> list[tuple[str, str]]:
    """(folded title, id) of every anime under ``flt``, sorted; cached (refreshed ahead).

    The payload's ``title`` has a full-text index, not an orderable one, so this one
    sort is done here: one id-ordered scroll of titles per filter and refresh.
    """

    async def load() -> list[tuple[str, str]]:
        keys: list[tuple[str, str]] = []
        after: str | None = None
        while True:
            page = await index.scroll(filter=flt, limit=_SCROLL_BATCH, cursor=after, with_payload=["title"])
            keys.extend((fold(str((h.payload or {}).get("title") or "")), h.id) for h in page.hits)
            if page.next_cursor is None:
                return sorted(keys)
            after = page.next_cursor

    return await _TITLE_ORDERS.of(index).get(fingerprint(repr(flt)), load)


async def title_page(
    index: VectorIndex,
    flt: SearchFilter,
    direction: SortOrder,
    pagination: Pagination,
    state: dict[str, Any] | None,
) -> tuple[list[Hit], dict[str, Any] | None]:
    """A page in title order (folded title, then id), from the cached order and one ``get``."""
    order = await title_order(index, flt)
    limit, n = pagination.limit, len(order)
    if state is not None:
        if (
            state.get("p") != "t"
            or not isinstance(state.get("t"), str)
            or not isinstance(state.get("id"), str)
        ):
            raise cursor.InvalidCursor("cursor is not one of this search's; repeat the search without it")
        key = (state["t"], state["id"])
        # Keyset, not position: an anime added or removed meanwhile shifts nothing.
        edge = (
            bisect.bisect_right(order, key) if direction is SortOrder.ASC else bisect.bisect_left(order, key)
        )
    else:
        edge = pagination.offset if direction is SortOrder.ASC else n - pagination.offset
    if direction is SortOrder.ASC:
        window, more = order[edge : edge + limit], edge + limit < n
    else:
        window, more = order[max(0, edge - limit) : max(0, edge)][::-1], edge - limit > 0
    points = await index.get([pid for _, pid in window])
    hits = [Hit(p.id, 0.0, dict(p.payload)) for p in points]
    if flt.status is StatusScope.ACTIVE:
        # The order may be seconds old; an anime orphaned since must still not show.
        hits = [h for h in hits if (h.payload or {}).get(SYSTEM_STATUS_FIELD) != ORPHANED]
    next_state = {"p": "t", "t": window[-1][0], "id": window[-1][1]} if more and window else None
    return hits, next_state


def _str_or_none(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise cursor.InvalidCursor("cursor is malformed: pass next_cursor exactly as it was returned")
