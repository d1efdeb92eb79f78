"""Ordered scroll with a total order (value, then id), shared by both adapters.

Qdrant orders by a payload value but leaves ties in engine order, which differs
between the edge shard and a server, and an ``order_by`` scroll returns no next
offset. Popularity and year have large tie groups, so paging "from the last
value" would repeat or skip points. This module builds stable pages from two
primitives every adapter has:

* ``by_id(clause, start, limit)`` - points under ``clause`` in id order from
  ``start`` (inclusive), the plain scroll;
* ``by_value(clause, order_by, limit)`` - the first ``limit`` points by value
  (ties in any order), the ``order_by`` query.

A page is walked as: the rest of the cursor's tie group (by id); then the points
strictly beyond the cursor value, by value; the last value group of that batch
may be cut by the limit, so it is dropped and refilled by id. The cursor is
``(value, id)`` of the last point, which makes every page cost O(limit) and visits
every point exactly once even when values tie.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace

from avs_shared.errors import Permanent
from avs_shared.ports.vector import Clause, Hit, OrderBy, Page, Range

from .filters import and_
from .model import CollectionSpec, order_field_kind

ById = Callable[[Clause, str | None, int], Awaitable[list[Hit]]]
ByValue = Callable[[Clause, OrderBy, int], Awaitable[list[Hit]]]


def encode_cursor(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, object]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise Permanent(f"malformed scroll cursor {cursor!r}") from exc
    if not isinstance(data, dict):
        raise Permanent(f"malformed scroll cursor {cursor!r}")
    return data


async def id_page(by_id: ById, clause: Clause, *, limit: int, offset: int, cursor: str | None) -> Page:
    """Points in id order (no ``order_by``)."""
    start: str | None = None
    if cursor is not None:
        data = decode_cursor(cursor)
        if data.get("k") is not None or not isinstance(data.get("id"), str):
            raise Permanent("this cursor belongs to an ordered scroll; pass the same order_by")
        start = str(data["id"])
    hits = await by_id(clause, start, offset + limit + 1)
    page = [replace(h, score=0.0) for h in hits[offset : offset + limit]]
    more = len(hits) > offset + limit
    return Page(page, encode_cursor({"id": hits[offset + limit].id, "k": None}) if more else None)


async def value_page(
    by_id: ById,
    by_value: ByValue,
    clause: Clause,
    order_by: OrderBy,
    *,
    limit: int,
    offset: int,
    cursor: str | None,
) -> Page:
    """Points ordered by ``order_by.field`` then id (see the module docstring)."""
    after: tuple[float, str] | None = None
    if cursor is not None:
        data = decode_cursor(cursor)
        value, last = data.get("v"), data.get("id")
        if data.get("k") != order_by.field or data.get("d") != order_by.direction:
            raise Permanent("this cursor belongs to a scroll with another order_by")
        if not isinstance(value, int | float) or not isinstance(last, str):
            raise Permanent(f"malformed scroll cursor {cursor!r}")
        after = (float(value), last)
    want = offset + limit + 1  # one more than needed tells whether a next page exists
    hits = await _walk(by_id, by_value, clause, order_by, after, want)
    page = hits[offset : offset + limit]
    next_cursor = None
    if len(hits) > offset + limit and page:
        last_hit = page[-1]
        next_cursor = encode_cursor(
            {"k": order_by.field, "d": order_by.direction, "v": last_hit.score, "id": last_hit.id}
        )
    return Page(page, next_cursor)


async def scroll_page(
    spec: CollectionSpec,
    by_id: ById,
    by_value: ByValue,
    clause: Clause,
    order_by: OrderBy | None,
    *,
    limit: int,
    offset: int,
    cursor: str | None,
) -> Page:
    """One page of ``scroll``: in id order without ``order_by``, else by value (then id)."""
    if offset and cursor:
        raise Permanent("scroll takes offset or cursor, not both")
    if order_by is None:
        return await id_page(by_id, clause, limit=limit, offset=offset, cursor=cursor)
    order_field_kind(spec, order_by.field)
    return await value_page(by_id, by_value, clause, order_by, limit=limit, offset=offset, cursor=cursor)


def _equal(field: str, value: float) -> Range:
    return Range(field, gte=value, lte=value)


def _sorted(hits: list[Hit], direction: str) -> list[Hit]:
    sign = 1.0 if direction == "asc" else -1.0
    return sorted(hits, key=lambda h: (sign * h.score, h.id))


async def _walk(
    by_id: ById,
    by_value: ByValue,
    clause: Clause,
    order_by: OrderBy,
    after: tuple[float, str] | None,
    want: int,
) -> list[Hit]:
    field, asc = order_by.field, order_by.direction == "asc"
    out: list[Hit] = []
    beyond = clause
    if after is not None:
        value, last_id = after
        group = await by_id(and_(clause, _equal(field, value)), last_id, want + 1)
        out.extend(replace(h, score=value) for h in group if h.id != last_id)
        out = out[:want]
        if len(out) >= want:
            return out
        beyond = and_(clause, Range(field, gt=value) if asc else Range(field, lt=value))
    need = want - len(out)
    ranked = await by_value(beyond, order_by, need)
    if len(ranked) < need:  # everything left fitted: every tie group is complete
        return out + _sorted(ranked, order_by.direction)
    edge_value = ranked[-1].score
    head = _sorted([h for h in ranked if h.score != edge_value], order_by.direction)
    tail = await by_id(and_(beyond, _equal(field, edge_value)), None, need - len(head))
    return out + head + [replace(h, score=edge_value) for h in tail]
