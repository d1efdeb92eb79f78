"""What a proposed entry changes in the live one, field by field.

Both entries are flattened to leaf paths (``characters[Spike Spiegel].role``,
``episode_details[#12].title``, ``genres[0]``) and compared. Items of a few lists are
matched by identity rather than position (episodes by number, characters and staff by
name), so adding episode 13 shows one added episode, not every later one shifted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import JsonValue

Change = Literal["added", "removed", "changed"]

_IDENTITY: dict[str, str] = {
    "episode_details": "episode_number",
    "characters": "name",
    "related_anime": "title",
    "relations": "title",
    "studios": "name",
    "producers": "name",
    "licensors": "name",
}
_IGNORED = frozenset({"version", "updated_at"})  # the store's bookkeeping, not content
_MAX_VALUE_CHARS = 300


@dataclass(frozen=True)
class DiffRow:
    path: str
    change: Change
    before: str | None
    after: str | None

    def public(self) -> dict[str, str | None]:
        return {"path": self.path, "change": self.change, "before": self.before, "after": self.after}


def diff_entries(live: Mapping[str, JsonValue], proposed: Mapping[str, JsonValue]) -> list[DiffRow]:
    """The differences from ``live`` to ``proposed``, in path order."""
    before = _flatten({k: v for k, v in live.items() if k not in _IGNORED})
    after = _flatten({k: v for k, v in proposed.items() if k not in _IGNORED})
    rows: list[DiffRow] = []
    for path in sorted(before.keys() | after.keys(), key=_sort_key):
        old, new = before.get(path, _MISSING), after.get(path, _MISSING)
        if old is _MISSING:
            rows.append(DiffRow(path, "added", None, _show(new)))
        elif new is _MISSING:
            rows.append(DiffRow(path, "removed", _show(old), None))
        elif old != new or type(old) is not type(new):
            rows.append(DiffRow(path, "changed", _show(old), _show(new)))
    return rows


_MISSING = object()


def _flatten(value: JsonValue, path: str = "", parent: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    if isinstance(value, dict):
        if not value and path:
            out[path] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{path}.{key}" if path else str(key), str(key)))
    elif isinstance(value, list):
        if not value and path:
            out[path] = []
        labels = _labels(value, _IDENTITY.get(parent))
        for label, item in zip(labels, value, strict=True):
            out.update(_flatten(item, f"{path}[{label}]", ""))
    else:
        out[path] = value
    return out


def _labels(items: list[JsonValue], identity: str | None) -> list[str]:
    if identity is not None:
        keys = [item.get(identity) if isinstance(item, dict) else None for item in items]
        if all(isinstance(k, str | int) and not isinstance(k, bool) for k in keys):
            texts = [f"#{k}" if isinstance(k, int) else str(k) for k in keys]
            if len(set(texts)) == len(texts):
                return texts
    return [str(i) for i in range(len(items))]


def _sort_key(path: str) -> list[tuple[int, int | str]]:
    parts: list[tuple[int, int | str]] = []
    for token in path.replace("[", ".").replace("]", "").split("."):
        number = token[1:] if token.startswith("#") else token
        parts.append((0, int(number)) if number.isdigit() else (1, token))
    return parts


def _show(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"
