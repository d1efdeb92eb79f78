"""Lookups by anime id: the full entry (cache-aside) and field projections; list item summaries.

Plain functions that receive their ports; the routes in ``avs_api.routes.anime`` only
parse parameters and shape HTTP responses.

The full entry
--------------
Cache-aside in Redis under ``anime:<anime_id>`` (the JSON of the whole
``AnimeEntry``, 24 h TTL). The indexer's commit deletes that key after it writes
DynamoDB, so the next read refills it from DynamoDB. The refill reads strongly
consistently: an eventually consistent read right after the commit's delete could
still return the previous version and put it back for a day.

Projections
-----------
``fields=title,statistics.mal.score`` reads only those paths from DynamoDB and is
not cached in Redis: a key per field combination could not be invalidated by the
commit (it deletes only ``anime:<id>``) and would serve stale data for its TTL.

Similar anime (``/anime/{anime_id}/similar``) are the search service's
:func:`avs_api.search.service.similar_to`, the one implementation of "similar to".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from avs_api.http_cache import dumps
from avs_shared.ports.entries import EntryStore, Projected
from avs_shared.ports.storage import Cache

ENTRY_KEY_PREFIX = "anime:"
MAX_FIELDS = 20
MAX_FIELD_CHARS = 200
# The entry store's document path syntax: names joined by '.', optional list indexes.
_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[[0-9]{1,4}\])*")

#: What a result list shows of each anime (all in the vector payload, no DynamoDB read).
SUMMARY_FIELDS: tuple[str, ...] = (
    "title",
    "title_english",
    "type",
    "status",
    "year",
    "season",
    "episodes",
    "genres",
    "studios",
    "score",
    "popularity",
    "image",
    "system_status",
)


class InvalidFields(ValueError):
    """The ``fields`` parameter is not a list of safe document paths."""


def entry_cache_key(anime_id: str) -> str:
    """``anime:<anime_id>``, the key the indexer's commit deletes."""
    return f"{ENTRY_KEY_PREFIX}{anime_id}"


def anime_summary(anime_id: str, payload: Mapping[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """The list item of one anime from its vector payload: ``id`` then the summary fields present."""
    item: dict[str, Any] = {"id": anime_id}
    for name in SUMMARY_FIELDS:
        value = (payload or {}).get(name)
        if value is not None:
            item[name] = value
    item.update(extra)
    return item


# ----------------------------------------------------------------------------- the entry


async def entry_json(anime_id: str, *, entries: EntryStore, cache: Cache, ttl_s: int) -> bytes | None:
    """The JSON bytes of the whole entry, from Redis or else DynamoDB (then cached); None if absent.

    Redis down is a miss on every call (slower, never an error). A cached value that
    is not this entry's JSON (corrupt, or written by something else) is ignored and
    replaced.
    """
    key = entry_cache_key(anime_id)
    cached = await cache.get(key)
    if cached is not None and _is_entry_of(cached, anime_id):
        return cached
    entry = await entries.get(anime_id, consistent=True)
    if entry is None:
        return None
    body = dumps(entry.to_json_dict())
    await cache.set(key, body, ttl_s=ttl_s)
    return body


def _is_entry_of(raw: bytes, anime_id: str) -> bool:
    # What entry_json stores starts with the id (the entry's first field): checked without
    # parsing the whole entry on every hit. Anything else is parsed and checked in full.
    if raw.startswith(b'{"id":"' + anime_id.encode() + b'",') and raw.endswith(b"}"):
        return True
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("id") == anime_id


def parse_fields(raw: str) -> list[str]:
    """``"title, genres,statistics.mal.score"`` → the distinct paths, in order.

    Raises
    ------
    InvalidFields
        Empty, more than :data:`MAX_FIELDS`, or a path that is not a safe document path.
    """
    names = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names:
        raise InvalidFields("fields is empty: list paths such as title,genres,statistics.mal.score")
    if len(names) > MAX_FIELDS:
        raise InvalidFields(f"at most {MAX_FIELDS} fields per request, got {len(names)}")
    bad = [n for n in names if len(n) > MAX_FIELD_CHARS or not _FIELD_RE.fullmatch(n)]
    if bad:
        raise InvalidFields(
            f"invalid field path(s) {', '.join(repr(b[:60]) for b in bad)}: use names of letters, digits, "
            "'_' or '-' joined by '.', with optional list indexes like images.covers[0]"
        )
    return names


async def entry_projection(anime_id: str, fields: Sequence[str], *, entries: EntryStore) -> Projected | None:
    """Only ``fields`` of the entry (plus ``id``), read from DynamoDB; None if absent."""
    try:
        return await entries.get(anime_id, fields=list(fields))
    except ValueError as exc:  # the store's own path checks (e.g. internal names)
        raise InvalidFields(str(exc)) from exc
