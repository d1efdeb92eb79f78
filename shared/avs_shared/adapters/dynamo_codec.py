"""JSON documents as native DynamoDB attribute values, and the expressions that use them.

Conversion (low-level wire format, ``{"S": ...}``, ``{"M": ...}``):

- ``str`` → ``S`` (empty strings are allowed in non-key attributes), ``bool`` →
  ``BOOL``, ``None`` → ``NULL``, ``list``/``tuple`` → ``L``, ``dict`` → ``M``; Python
  sets (not JSON) become a sorted ``L``, so an empty set is stored, not rejected.
  String, number and binary *sets* are never written; when read they become lists.
- Numbers are sent as decimal text: ``int`` as is (at most 38 digits), ``float`` as
  the shortest text that reads back as the same float (``repr``, through
  :class:`~decimal.Decimal`), so ``8.78`` stays ``8.78`` and never becomes
  ``8.7799999...``. Text with ``.``/``e``/``E`` reads back as ``float``, other text as
  ``int``. DynamoDB trims trailing zeros, so a float with an integral value (``8.0``)
  may come back as the equal ``int`` ``8``; model fields typed ``float`` restore it.
- ``datetime`` → ``S`` in UTC ISO 8601 (the text it was parsed from, if any).

The last section fixes the item layout of ``anime-enriched-data`` (key, the store's
own ``_avs_`` attributes); the store's module docstring explains it, and
:mod:`~avs_shared.adapters.dynamo_overflow` the overflow pointers.

Document paths (``statistics.mal.score``, ``images.covers[0]``) are parsed and
validated in :mod:`~avs_shared.adapters.dynamo_paths` (re-exported here);
:class:`Expression` renders them with ``ExpressionAttributeNames`` placeholders
only, so reserved words need no care.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import JsonValue

# The path helpers lived here before dynamo_paths; re-exported so old imports keep working.
from avs_shared.adapters.dynamo_paths import Path as Path
from avs_shared.adapters.dynamo_paths import PathPart as PathPart
from avs_shared.adapters.dynamo_paths import check_disjoint as check_disjoint
from avs_shared.adapters.dynamo_paths import minimal_paths as minimal_paths
from avs_shared.adapters.dynamo_paths import parse_path as parse_path
from avs_shared.adapters.dynamo_paths import project as project
from avs_shared.adapters.dynamo_paths import render_path as render_path
from avs_shared.adapters.dynamo_wire import WireItem
from avs_shared.errors import Permanent
from avs_shared.schema import AnimeEntry, SystemStatus, format_utc_datetime

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

_MAX_DIGITS = 38


# --- values ---------------------------------------------------------------------------


def to_attribute(value: object, where: str = "$") -> AttributeValue:
    """One JSON value as a DynamoDB attribute value; ``where`` names it in errors."""
    try:
        return _attribute(value)
    except _BadValue as bad:
        raise bad.error(where) from None


class _BadValue(Exception):
    """A value DynamoDB cannot hold, with the path to it built on the way out.

    The path of every value would otherwise be formatted before converting it: an
    entry has ~470 values, and formatting their paths cost as much as converting them.
    """

    def __init__(self, kind: type[Exception], reason: str) -> None:
        self.kind, self.reason, self.parts = kind, reason, list[str]()

    def error(self, where: str) -> Exception:
        return self.kind(f"{where}{''.join(reversed(self.parts))}: {self.reason}")


# The JSON types as the codec and pydantic produce them, checked by exact type first
# (an ``isinstance`` against ``Mapping`` costs an ABC lookup per value); subclasses,
# enums and other mappings take the general path below.
def _attribute(value: object) -> AttributeValue:
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is dict:
        return {"M": _map(value)}  # type: ignore[arg-type]
    if kind is list:
        return {"L": _list(value)}  # type: ignore[arg-type]
    if kind is int or kind is float:
        return {"N": _number_text(value)}  # type: ignore[arg-type]
    if value is None:
        return {"NULL": True}
    if kind is bool:
        return {"BOOL": value}
    return _other_attribute(value)


def _other_attribute(value: object) -> AttributeValue:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, Enum):
        return _attribute(value.value)
    if isinstance(value, str):
        return {"S": str(value)}
    if isinstance(value, int | float | Decimal):
        return {"N": _number_text(value)}
    if isinstance(value, datetime):
        return {"S": format_utc_datetime(value)}
    if isinstance(value, Mapping):
        return {"M": _map(value)}
    if isinstance(value, list | tuple):
        return {"L": _list(value)}
    if isinstance(value, set | frozenset):
        try:
            return {"L": [_attribute(v) for v in sorted(value)]}
        except _BadValue as bad:
            bad.parts.append("[]")
            raise
    raise _BadValue(TypeError, f"{type(value).__name__} is not a JSON value")


def _list(value: Sequence[object]) -> list[AttributeValue]:
    out: list[AttributeValue] = []
    for i, item in enumerate(value):
        try:
            out.append(_attribute(item))
        except _BadValue as bad:
            bad.parts.append(f"[{i}]")
            raise
    return out


def _map(value: Mapping[Any, object]) -> dict[str, AttributeValue]:
    out: dict[str, AttributeValue] = {}
    for key, item in value.items():
        if type(key) is not str or not key:
            if not isinstance(key, str) or not key:
                raise _BadValue(ValueError, f"map keys must be non-empty strings, got {key!r}")
        try:
            out[key] = _attribute(item)
        except _BadValue as bad:
            bad.parts.append(f".{key}")
            raise
    return out


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, int):
        text = str(value)
        if len(text) > _MAX_DIGITS and len(text.lstrip("-")) > _MAX_DIGITS:
            raise _BadValue(ValueError, f"{value} has more than {_MAX_DIGITS} digits (DynamoDB's limit)")
        return text
    if isinstance(value, float) and not math.isfinite(value):
        raise _BadValue(ValueError, f"{value} is not a JSON number")
    dec = Decimal(repr(value)) if isinstance(value, float) else value
    if not dec.is_finite():
        raise _BadValue(ValueError, f"{value} is not a JSON number")
    if dec != 0 and not -130 <= dec.adjusted() <= 125:
        raise _BadValue(ValueError, f"{value} is outside DynamoDB's number range (1E-130 .. 9.99E+125)")
    if len(dec.as_tuple().digits) > _MAX_DIGITS:
        raise _BadValue(ValueError, f"{value} has more than {_MAX_DIGITS} significant digits")
    return str(dec)  # a float's repr always has "." or "e", so it reads back as a float


def from_attribute(av: Mapping[str, Any]) -> JsonValue:
    """A DynamoDB attribute value as a JSON value."""
    if "S" in av:
        return str(av["S"])
    if "N" in av:
        return _number(str(av["N"]))
    if "BOOL" in av:
        return bool(av["BOOL"])
    if "NULL" in av:
        return None
    if "M" in av:
        return {str(k): from_attribute(v) for k, v in av["M"].items()}
    if "L" in av:
        return [from_attribute(v) for v in av["L"]]
    if "SS" in av:
        return [str(s) for s in sorted(av["SS"])]
    if "NS" in av:
        return [_number(str(n)) for n in sorted(av["NS"], key=Decimal)]
    raise ValueError(f"attribute type {sorted(av)} has no JSON equivalent")


def _number(text: str) -> int | float:
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def to_item(doc: Mapping[str, object]) -> Item:
    """A JSON object as a DynamoDB item (top-level keys become attributes).

    The item is a :class:`~avs_shared.adapters.dynamo_wire.WireItem`: it is the wire
    format already, so a client with :func:`~avs_shared.adapters.dynamo_wire.install`
    sends it without re-serialising every value.
    """
    try:
        return WireItem(_map(doc))
    except _BadValue as bad:
        raise bad.error("$") from None


def from_item(item: Mapping[str, Mapping[str, Any]], *, skip: Iterable[str] = ()) -> dict[str, JsonValue]:
    """A DynamoDB item as a JSON object, without the attributes named in ``skip``."""
    skipped = frozenset(skip)
    return {str(k): from_attribute(v) for k, v in item.items() if k not in skipped}


def attribute_size(name: str, av: Mapping[str, Any]) -> int:
    """DynamoDB's size of one attribute (name + value), rounded up where it is approximate."""
    return len(name.encode()) + _value_size(av)


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """DynamoDB's size of an item (the 400 KB limit applies to this)."""
    return sum(attribute_size(k, v) for k, v in item.items())


def _value_size(av: Mapping[str, Any]) -> int:
    if "S" in av:
        return len(str(av["S"]).encode())
    if "N" in av:
        return len(str(av["N"])) // 2 + 2  # ~1 byte per 2 significant digits, plus 1
    if "M" in av:
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in av["M"].items())
    if "L" in av:
        return 3 + sum(1 + _value_size(v) for v in av["L"])
    if "SS" in av:
        return sum(len(str(s).encode()) for s in av["SS"])
    if "NS" in av:
        return sum(len(str(n)) // 2 + 2 for n in av["NS"])
    return 1  # BOOL, NULL


# --- expressions ---------------------------------------------------------------------


class Expression:
    """Placeholders for one request's ``ExpressionAttributeNames`` / ``...Values``."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValue] = {}
        self._placeholders: dict[str, str] = {}

    def name(self, name: str) -> str:
        found = self._placeholders.get(name)
        if found is None:
            found = f"#n{len(self._placeholders)}"
            self._placeholders[name] = found
            self.names[found] = name
        return found

    def path(self, path: Path) -> str:
        out = ""
        for part in path:
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += ("." if out else "") + self.name(part)
        return out

    def value(self, value: object, where: str = "$") -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = to_attribute(value, where)
        return placeholder

    def kwargs(self) -> dict[str, Any]:
        """The request arguments for what was used (DynamoDB rejects unused or empty maps)."""
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


# --- the item layout of anime-enriched-data ---------------------------------------

KEY = "anime_id"
META = "_avs_"
"""Prefix of the store's own attributes; never part of an entry."""
HASH = "_avs_content_sha256"
OVERFLOW = "_avs_overflow"
STORE_OWNED = frozenset({KEY, "id", "version", "updated_at"})


def field_paths(fields: Sequence[str] | None) -> list[Path] | None:
    """The parsed paths of ``fields`` plus ``id``, without overlaps; None for None."""
    if fields is None:
        return None
    if isinstance(fields, str):
        raise ValueError(f"fields must be a sequence of paths, not one string: {fields!r}")
    if not fields:
        raise ValueError("fields is empty: pass None for the whole entry")
    if len(fields) > 100:
        raise ValueError(f"at most 100 fields per read, got {len(fields)}")
    paths = [parse_path(f) for f in fields]
    for path in paths:
        if str(path[0]).startswith(META):
            raise ValueError(
                f"invalid field path {render_path(path)!r}: names starting {META!r} are internal"
            )
    return minimal_paths([*paths, ("id",)])


def projection_text(paths: list[Path], expr: Expression) -> str:
    """The ``ProjectionExpression`` that reads ``paths`` (and the overflow pointers).

    A path with a list index reads the whole list, and the index is applied after
    reading (see :func:`~avs_shared.adapters.dynamo_paths.project`): emulators differ
    from DynamoDB on ``#name[3]`` paths, and DynamoDB charges reads by item size, not
    by what is returned.
    """
    reads = [next((p[:i] for i, part in enumerate(p) if isinstance(part, int)), p) for p in paths]
    return ", ".join(expr.path(p) for p in minimal_paths([*reads, (OVERFLOW,)]))


def projection(paths: list[Path]) -> dict[str, Any]:
    expr = Expression()
    return {"ProjectionExpression": projection_text(paths, expr), **expr.kwargs()}


def update_path(raw: str, *, setting: bool = False, value: object = None) -> Path:
    """A path ``update_fields`` may set (``setting``) or remove; ValueError for store-owned ones."""
    path = parse_path(raw)
    head = str(path[0])
    if head in STORE_OWNED or head.startswith(META):
        raise ValueError(f"{raw!r} is maintained by the entry store and cannot be updated directly")
    if path[0] == "system_status":
        # It is the GSI key: only a whole, valid value (ACTIVE / ORPHANED) may be set.
        if not setting or len(path) > 1 or not isinstance(value, str) or value not in set(SystemStatus):
            raise ValueError(f"system_status can only be set to one of {[s.value for s in SystemStatus]}")
    return path


def entry_document(entry: AnimeEntry) -> dict[str, JsonValue]:
    """The JSON document stored for ``entry`` (``system_status`` always explicit)."""
    doc = entry.to_json_dict()
    clashes = sorted(k for k in doc if k == KEY or k.startswith(META))
    if clashes:
        raise Permanent(f"entry {entry.id} has fields whose names the store reserves: {clashes}")
    doc["system_status"] = entry.system_status.value  # always present: it is the GSI key
    return doc


def canonical_json(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def content_hash(doc: Mapping[str, JsonValue]) -> str:
    """SHA-256 of the entry's content: everything but ``version`` and ``updated_at``."""
    content = {k: v for k, v in doc.items() if k not in ("version", "updated_at")}
    return hashlib.sha256(canonical_json(content)).hexdigest()


def text_attr(item: Mapping[str, Any], name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def version_attr(item: Mapping[str, Any]) -> int:
    return int(item.get("version", {}).get("N", "0"))
