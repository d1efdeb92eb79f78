"""From the submitted entry form back to an entry document, with every problem by path.

Field names are JSON paths joined by dots: ``title``, ``genres.3``,
``characters.0.voice_actors.1.name``. Maps are rows of ``<path>.<n>.key`` and
``<path>.<n>.value``; keys the schema does not know travel as JSON in
``<object path>.~extra``. ``<name>~t`` says what the form cannot say by itself:
whether a "number or text" value was a number (``int``/``str``), that a blank text
was an empty text rather than a missing one (``empty``), or that an empty list or map
was there (``keep``); so an entry submitted unchanged comes back unchanged. List
indexes in names need not be contiguous (rows added and removed in the browser):
items are taken in index order. Names starting with ``_`` are the page's own
controls (CSRF token, base version), never entry data.

:func:`parse_form` never raises on bad input: it returns the document as far as it
could be read (so the page can show the reviewer's edits again) and the problems
keyed by JSON path, which is how the page puts each message next to its field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from avs_api.review.form_spec import (
    READ_ONLY,
    FieldSpec,
    FreeJson,
    ImageItem,
    ListOf,
    MapOf,
    Node,
    ObjectOf,
    Scalar,
    entry_spec,
    object_spec,
)
from avs_shared.schema.images import ImagePlaceholder

Path = tuple[str | int, ...]
EXTRA = "~extra"
HINT = "~t"

_ABSENT: Any = object()
_INT = re.compile(r"^[+-]?\d+$")
_CANONICAL_INT = re.compile(r"^-?(0|[1-9]\d*)$")
_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_UNION_TAGS = frozenset({"str", "int", "float", "bool", "none"})


@dataclass
class ParsedForm:
    """The document read from a form, the problems found (by JSON path), and the raw text of
    JSON fields that did not parse (so the page can show them as typed)."""

    document: dict[str, Any]
    errors: dict[Path, str] = field(default_factory=dict)
    raw: dict[Path, str] = field(default_factory=dict)

    def add_error(self, path: Path, message: str) -> None:
        self.errors.setdefault(path, message)


def form_tree(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest ``a.b.0=v`` pairs into dicts (control fields and conflicting names dropped)."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        if not name or name.startswith("_"):
            continue
        node = root
        parts = name.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            if not isinstance(node.get(parts[-1]), dict):
                node[parts[-1]] = value
    return root


def parse_form(pairs: Iterable[tuple[str, str]], *, base: Mapping[str, Any] | None = None) -> ParsedForm:
    """The entry document of a submitted form.

    ``base`` is the entry the form was made from; its read-only fields (``id``,
    ``version``, ``updated_at``) are carried over, as they are not in the form.
    """
    parsed = ParsedForm({})
    doc = _object(entry_spec(), form_tree(pairs), (), parsed, always=True)
    for key in READ_ONLY:
        if base is not None and key in base:
            doc[key] = base[key]
    parsed.document = doc
    return parsed


def _parse(node: Node, value: Any, path: Path, parsed: ParsedForm, *, required: bool, hint: Any) -> Any:
    if isinstance(node, Scalar):
        return _scalar(node, value, path, parsed, required=required, hint=hint)
    if isinstance(node, ImageItem):
        if isinstance(value, dict):
            return _object(object_spec(ImagePlaceholder), value, path, parsed, always=True)
        text = value.strip() if isinstance(value, str) else ""
        return text or _ABSENT
    if isinstance(node, FreeJson):
        return _json(value, path, parsed)
    if isinstance(node, ListOf):
        return _list(node, value, path, parsed, required=required or hint == "keep")
    if isinstance(node, MapOf):
        return _map(node, value, path, parsed, required=required or hint == "keep")
    return _object(node, value, path, parsed, always=required)


def _scalar(node: Scalar, value: Any, path: Path, parsed: ParsedForm, *, required: bool, hint: Any) -> Any:
    if not isinstance(value, str):
        return _ABSENT
    text = value.replace("\r\n", "\n")
    stripped = text.strip()
    if not stripped:
        if hint == "empty" and node.kind in ("str", "text"):
            return text  # it was an empty text, not a missing one: keep it so
        if required:
            parsed.add_error(path, "required: fill it in")
            return text if node.kind in ("str", "text") else _ABSENT
        return _ABSENT
    kind = node.kind
    if kind in ("str", "text"):
        return text
    if kind == "int":
        if _INT.match(stripped):
            return int(stripped)
        parsed.add_error(path, f"{stripped!r} is not a whole number")
        return stripped
    if kind == "float":
        try:
            number = float(stripped)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
        parsed.add_error(path, f"{stripped!r} is not a number")
        return stripped
    if kind == "bool":
        if stripped in ("true", "false"):
            return stripped == "true"
        parsed.add_error(path, "choose yes or no")
        return _ABSENT
    if kind == "enum":
        if stripped not in node.choices:
            parsed.add_error(path, f"choose one of {', '.join(node.choices)}")
        return stripped
    if kind == "int_or_str":
        as_number = hint == "int" or (hint is None and _CANONICAL_INT.match(stripped))
        return int(stripped) if as_number and _INT.match(stripped) else text
    return stripped  # datetime: the schema parses it (and says what is wrong)


def _json(value: Any, path: Path, parsed: ParsedForm) -> Any:
    if not isinstance(value, str) or not value.strip():
        return _ABSENT
    try:
        return json.loads(value)
    except ValueError as exc:
        parsed.add_error(path, f"not valid JSON: {exc}")
        parsed.raw[path] = value
        return _ABSENT


def _indexed(value: Any) -> list[Any]:
    if not isinstance(value, dict):
        return []
    return [value[k] for k in sorted((k for k in value if k.isdigit()), key=int)]


def _list(node: ListOf, value: Any, path: Path, parsed: ParsedForm, *, required: bool) -> Any:
    items: list[Any] = []
    # Blank rows of texts and URLs are dropped; an object row stays (and says what it lacks).
    objects = isinstance(node.item, ObjectOf | ListOf | MapOf)
    for sub in _indexed(value):
        item = _parse(node.item, sub, (*path, len(items)), parsed, required=objects, hint=None)
        if item is not _ABSENT:
            items.append(item)
    return items if items or required else _ABSENT


def _map(node: MapOf, value: Any, path: Path, parsed: ParsedForm, *, required: bool) -> Any:
    out: dict[str, Any] = {}
    for row in _indexed(value):
        row = row if isinstance(row, dict) else {}
        raw_key = row.get("key")
        key = raw_key.strip() if isinstance(raw_key, str) else ""
        item = _parse(
            node.value, row.get("value"), (*path, key), parsed, required=False, hint=row.get("value" + HINT)
        )
        if not key:
            if item is not _ABSENT and item != {}:
                parsed.add_error(path, "every row needs a name (key); fill it in or remove the row")
            continue
        if key in out:
            parsed.add_error((*path, key), f"{key!r} appears twice; keep one")
            continue
        if item is _ABSENT:
            parsed.add_error((*path, key), "give it a value or remove the row")
            continue
        out[key] = item
    return out if out or required else _ABSENT


def _object(node: ObjectOf, value: Any, path: Path, parsed: ParsedForm, *, always: bool) -> Any:
    tree = value if isinstance(value, dict) else {}
    local = ParsedForm({})
    out: dict[str, Any] = {}
    spec: FieldSpec
    for spec in node.fields:
        if not path and spec.key in READ_ONLY:
            continue
        sub, hint = tree.get(spec.key), tree.get(spec.key + HINT)
        got = _parse(spec.node, sub, (*path, spec.key), local, required=spec.required, hint=hint)
        if got is not _ABSENT:
            out[spec.key] = got
    extra = _json(tree.get(EXTRA), (*path, EXTRA), local)
    if extra is not _ABSENT:
        if not isinstance(extra, dict):
            local.add_error((*path, EXTRA), "other fields must be a JSON object ({...})")
        else:
            clash = sorted(set(extra) & node.keys)
            if clash:
                local.add_error((*path, EXTRA), f"{', '.join(clash)} already have their own fields above")
            out.update({k: v for k, v in extra.items() if k not in node.keys})
    if not always and not out and not local.raw:
        return _ABSENT  # an optional object left empty: no object, and no "required" complaints
    for p, message in local.errors.items():
        parsed.add_error(p, message)
    parsed.raw.update(local.raw)
    return out


def error_path(loc: Iterable[str | int], document: Mapping[str, Any]) -> Path:
    """A pydantic error location as a JSON path of ``document`` (union member tags dropped)."""
    current: Any = document
    out: list[str | int] = []
    for part in loc:
        if isinstance(current, dict):
            if isinstance(part, str) and (
                part in current or (_FIELD_NAME.match(part) and part not in _UNION_TAGS)
            ):
                out.append(part)
                current = current.get(part)
            continue
        if isinstance(current, list):
            if isinstance(part, int):
                out.append(part)
                current = current[part] if 0 <= part < len(current) else None
            continue
        if current is None and isinstance(part, str) and _FIELD_NAME.match(part) and part not in _UNION_TAGS:
            out.append(part)
            continue
        break
    return tuple(out)


def dotted(path: Path) -> str:
    """``("characters", 0, "name")`` → ``characters.0.name`` (the field's form name)."""
    return ".".join(str(p) for p in path)
