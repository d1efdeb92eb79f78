"""Document paths inside DynamoDB items: parsing, validation, overlap checks, local projection.

Paths (``statistics.mal.score``, ``images.covers[0]``) are parsed into parts, each
name validated against a safe pattern; :class:`~avs_shared.adapters.dynamo_codec.Expression`
renders them with ``ExpressionAttributeNames`` placeholders only, so reserved words
need no care. :func:`project` applies paths to a document that was read whole (a
field kept outside the item), shaped as DynamoDB's own projection would be.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import JsonValue

PathPart = str | int
Path = tuple[PathPart, ...]

_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
_PATH_RE = re.compile(rf"{_NAME}(?:\[\d{{1,6}}\])*(?:\.{_NAME}(?:\[\d{{1,6}}\])*)*")
_PART_RE = re.compile(rf"({_NAME})|\[(\d+)\]")
_MAX_PATH_CHARS = 255
_MAX_DEPTH = 32


def parse_path(path: str) -> Path:
    """``"images.covers[0]"`` → ``("images", "covers", 0)``; ValueError for anything unsafe."""
    if not isinstance(path, str) or len(path) > _MAX_PATH_CHARS or not _PATH_RE.fullmatch(path):
        raise ValueError(
            f"invalid field path {path!r}: use names of letters, digits, '_' or '-' (not starting "
            "with a digit), joined by '.', with optional list indexes like 'images.covers[0]'"
        )
    parts: Path = tuple(name if name else int(index) for name, index in _PART_RE.findall(path))
    if len(parts) > _MAX_DEPTH:
        raise ValueError(f"invalid field path {path!r}: deeper than {_MAX_DEPTH} levels")
    return parts


def render_path(path: Path) -> str:
    """The text form of a parsed path (the inverse of :func:`parse_path`)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _conflict(a: Path, b: Path) -> bool:
    """True when two paths overlap (one contains the other) or disagree on a container type."""
    for x, y in zip(a, b, strict=False):
        if x != y:
            return isinstance(x, int) != isinstance(y, int)
    return True  # one is a prefix of the other


def minimal_paths(paths: Iterable[Path]) -> list[Path]:
    """Projection paths without duplicates and without paths inside another requested one.

    DynamoDB rejects overlapping projection paths; asking for ``statistics`` and
    ``statistics.mal`` means ``statistics``. Raises ValueError for paths that
    disagree on a container's type (``a[0]`` and ``a.b``).
    """
    kept: list[Path] = []
    for path in sorted(set(paths), key=len):
        clash = next((k for k in kept if _conflict(k, path)), None)
        if clash is None:
            kept.append(path)
        elif path[: len(clash)] != clash:
            raise ValueError(
                f"field paths {render_path(clash)!r} and {render_path(path)!r} disagree on a list or map"
            )
    return kept


def check_disjoint(paths: Sequence[Path]) -> None:
    """ValueError unless no path overlaps another (required of one update expression)."""
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            if _conflict(a, b):
                raise ValueError(f"field paths {render_path(a)!r} and {render_path(b)!r} overlap")


# --- local projection (for fields stored outside the item) ----------------------------


def project(doc: Mapping[str, JsonValue], paths: Iterable[Path]) -> dict[str, JsonValue]:
    """The parts of ``doc`` at ``paths``, shaped like a DynamoDB projection.

    Maps keep the requested keys; a list keeps the requested indexes in ascending
    order (so ``a[3]`` comes back as a one-element list). Missing paths are left out.
    """
    tree: dict[PathPart, Any] = {}
    for path in paths:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if node is None:
                break
        else:
            node[path[-1]] = None  # None marks "the whole value"
    found = _extract(doc, tree)
    return found if isinstance(found, dict) else {}


_MISSING = object()


def _extract(value: object, tree: dict[PathPart, Any]) -> Any:
    if isinstance(value, dict):
        out: dict[str, JsonValue] = {}
        for key, sub in tree.items():
            if isinstance(key, str) and key in value:
                got = value[key] if sub is None else _extract(value[key], sub)
                if got is not _MISSING:
                    out[key] = got
        return out if out else _MISSING
    if isinstance(value, list):
        items: list[JsonValue] = []
        for index in sorted(k for k in tree if isinstance(k, int)):
            if index < len(value):
                sub = tree[index]
                got = value[index] if sub is None else _extract(value[index], sub)
                if got is not _MISSING:
                    items.append(got)
        return items if items else _MISSING
    return _MISSING
