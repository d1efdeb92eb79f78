"""From an entry document to the widgets of the editable form (the template draws them).

The names follow :mod:`avs_api.review.form`; each widget knows its JSON path, which
is where its error message comes from. Every list and map carries a ``template``: a
blank item whose index is the token ``__i<depth>__``, which the page's script
replaces with a fresh index when the reviewer adds a row (nested lists have their own
depth, so adding a character leaves the token of its voice-actor list in place).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from avs_api.review.form import EXTRA, Path, dotted
from avs_api.review.form_spec import (
    CORE_SECTIONS,
    READ_ONLY,
    SINGULAR,
    TABS,
    FieldSpec,
    FreeJson,
    ImageItem,
    ListOf,
    MapOf,
    Node,
    ObjectOf,
    Scalar,
    entry_spec,
    label,
    object_spec,
    tab_of,
)
from avs_shared.schema.images import ImagePlaceholder

_TITLE_KEYS = ("name", "title", "platform", "url", "image_url")
_TOKEN = re.compile(r"^__i\d+__$")


@dataclass
class Widget:
    """One piece of the form.

    ``kind``: ``input``, ``textarea``, ``select``, ``json`` (JSON text), ``readonly``,
    ``group`` (an object's fields), ``list`` / ``map`` (items with add and remove),
    ``item`` (one list item or map row).
    """

    kind: str
    label: str = ""
    name: str = ""
    path: str = ""
    value: str = ""
    error: str | None = None
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    hint: str | None = None  # for "number or text" values: was it a number?
    link: str | None = None  # the value as a safe link (http and https only)
    children: list[Widget] = field(default_factory=list)
    template: str = ""  # list / map: the pattern of its blank item (see ``pattern_of``)
    token: str = ""
    next_index: int = 0
    item_label: str = "item"
    title: str = ""


@dataclass
class Tab:
    id: str
    title: str
    widgets: list[Widget]
    errors: int = 0


@dataclass
class Section:
    title: str
    widgets: list[Widget]


class _Renderer:
    def __init__(self, errors: Mapping[Path, str], raw: Mapping[Path, str]) -> None:
        self.errors = errors
        self.raw = raw
        self.templates: dict[str, Widget] = {}

    def field(self, spec: FieldSpec, value: Any, path: Path, name: str, depth: int) -> Widget:
        return self.node(
            spec.node, value, path, name, depth, label_=spec.label, required=spec.required, key=spec.key
        )

    def node(
        self,
        node: Node,
        value: Any,
        path: Path,
        name: str,
        depth: int,
        *,
        label_: str = "",
        required: bool = False,
        key: str = "",
    ) -> Widget:
        error = self.errors.get(path)
        common: dict[str, Any] = {
            "label": label_,
            "name": name,
            "path": dotted(path),
            "error": error,
            "required": required,
        }
        if isinstance(node, Scalar):
            return self.scalar(node, value, common)
        if isinstance(node, ImageItem):
            if isinstance(value, dict):
                group = self.object_of(object_spec(ImagePlaceholder), value, path, name, depth)
                group.label, group.error = label_ or "Failed image", error
                return group
            text = value if isinstance(value, str) else ""
            return Widget("input", value=text, link=_safe_link(text), **common)
        if isinstance(node, FreeJson):
            shown = self.raw.get(path)
            if shown is None:
                shown = "" if value is None else json.dumps(value, ensure_ascii=False, indent=2)
            return Widget("json", value=shown, **common)
        if isinstance(node, ListOf):
            return self.list_of(node, value, path, name, depth, common, key)
        if isinstance(node, MapOf):
            return self.map_of(node, value, path, name, depth, common, key)
        group = self.object_of(node, value, path, name, depth)
        group.label, group.error, group.required = label_, error, required
        return group

    def scalar(self, node: Scalar, value: Any, common: dict[str, Any]) -> Widget:
        text = _text(value)
        if node.kind == "bool":
            return Widget(
                "select", value=text, choices=(("", "—"), ("true", "yes"), ("false", "no")), **common
            )
        if node.kind == "enum":
            choices = tuple((c, c) for c in node.choices)
            if text and text not in node.choices:
                choices += ((text, text),)  # an unknown value stays visible (and gets its error)
            if not common["required"] or not text:
                choices = (("", "—"), *choices)
            return Widget("select", value=text, choices=choices, **common)
        kind = "textarea" if node.kind == "text" else "input"
        widget = Widget(kind, value=text, link=_safe_link(text), **common)
        if isinstance(value, str) and not value.strip():
            widget.hint = "empty"
        if node.kind == "int_or_str":
            widget.hint = "int" if isinstance(value, int) and not isinstance(value, bool) else "str"
            widget.hint = widget.hint if value is not None else None
        return widget

    def list_of(
        self, node: ListOf, value: Any, path: Path, name: str, depth: int, common: dict[str, Any], key: str
    ) -> Widget:
        items = value if isinstance(value, list) else []
        token = f"__i{depth}__"
        widget = Widget(
            "list",
            token=token,
            next_index=len(items),
            item_label=SINGULAR.get(key, "item"),
            hint="keep" if isinstance(value, list) else None,
            **common,
        )
        for i, item in enumerate(items):
            widget.children.append(self.item(node.item, item, (*path, i), f"{name}.{i}", depth + 1))
        widget.template = pattern_of(name)
        if widget.template not in self.templates:
            blank = self.item(node.item, None, (*path, token), f"{widget.template}.{token}", depth + 1)
            blank.item_label = widget.item_label
            self.templates[widget.template] = blank
        return widget

    def item(self, node: Node, value: Any, path: Path, name: str, depth: int) -> Widget:
        inner = self.node(node, value, path, name, depth)
        inner.label = ""
        return Widget("item", name=name, path=dotted(path), children=[inner], title=_title(value))

    def map_of(
        self, node: MapOf, value: Any, path: Path, name: str, depth: int, common: dict[str, Any], key: str
    ) -> Widget:
        rows = value if isinstance(value, dict) else {}
        token = f"__i{depth}__"
        widget = Widget(
            "map",
            token=token,
            next_index=len(rows),
            item_label=SINGULAR.get(key, "entry"),
            hint="keep" if isinstance(value, dict) else None,
            **common,
        )
        for i, (row_key, row_value) in enumerate(rows.items()):
            widget.children.append(
                self.row(node, row_key, row_value, (*path, row_key), f"{name}.{i}", depth + 1)
            )
        widget.template = pattern_of(name)
        if widget.template not in self.templates:
            blank = self.row(node, "", None, (*path, token), f"{widget.template}.{token}", depth + 1)
            blank.item_label = widget.item_label
            self.templates[widget.template] = blank
        return widget

    def row(self, node: MapOf, key: str, value: Any, row_path: Path, name: str, depth: int) -> Widget:
        key_widget = Widget("input", label="Name", name=f"{name}.key", path=dotted(row_path), value=key)
        value_widget = self.node(node.value, value, row_path, f"{name}.value", depth, label_="Value")
        return Widget(
            "item", name=name, path=dotted(row_path), children=[key_widget, value_widget], title=key
        )

    def object_of(self, node: ObjectOf, value: Any, path: Path, name: str, depth: int) -> Widget:
        doc = value if isinstance(value, dict) else {}
        group = Widget("group", name=name, path=dotted(path))
        for spec in node.fields:
            if not path and spec.key in READ_ONLY:
                continue
            group.children.append(
                self.field(spec, doc.get(spec.key), (*path, spec.key), _join(name, spec.key), depth)
            )
        group.children.extend(self.extras(node, doc, path, name))
        return group

    def extras(self, node: ObjectOf, doc: Mapping[str, Any], path: Path, name: str) -> list[Widget]:
        extra_path = (*path, EXTRA)
        unknown = {k: v for k, v in doc.items() if k not in node.keys}
        shown = self.raw.get(extra_path)
        if not unknown and shown is None:
            return []
        text = shown if shown is not None else json.dumps(unknown, ensure_ascii=False, indent=2)
        return [
            Widget(
                "json",
                label="Other fields (JSON)",
                name=_join(name, EXTRA),
                path=dotted(extra_path),
                value=text,
                error=self.errors.get(extra_path),
            )
        ]


@dataclass
class EntryForm:
    """The tabs, and the blank item of every list (by pattern) that the page holds once."""

    tabs: list[Tab]
    templates: dict[str, Widget]


def render_form(
    document: Mapping[str, Any], errors: Mapping[Path, str], raw: Mapping[Path, str]
) -> EntryForm:
    """The form of ``document`` split into the page's tabs (Core Info in sections)."""
    renderer = _Renderer(errors, raw)
    spec = entry_spec()
    by_key: dict[str, Widget] = {}
    for field_spec in spec.fields:
        if field_spec.key not in READ_ONLY:
            by_key[field_spec.key] = renderer.field(
                field_spec, document.get(field_spec.key), (field_spec.key,), field_spec.key, 0
            )
    tabs = [Tab(tab_id, title, [by_key[k] for k in keys if k in by_key]) for tab_id, title, keys in TABS]
    placed = {k for _, _, keys in TABS for k in keys}
    core = tabs[0]
    core.widgets.extend(w for k, w in by_key.items() if k not in placed)
    core.widgets.extend(renderer.extras(spec, document, (), ""))
    for tab in tabs:
        tab.errors = sum(1 for p in errors if p and tab_of(str(p[0])) == tab.id)
    return EntryForm(tabs, renderer.templates)


def core_sections(tab: Tab) -> list[Section]:
    """Core Info's widgets grouped into sections (fields outside every section come last)."""
    by_path = {w.path: w for w in tab.widgets}
    sections = [Section(title, [by_path[k] for k in keys if k in by_path]) for title, keys in CORE_SECTIONS]
    listed = {k for _, keys in CORE_SECTIONS for k in keys}
    rest = [w for w in tab.widgets if w.path not in listed]
    if rest:
        sections.append(Section("Other fields", rest))
    return [s for s in sections if s.widgets]


def read_only_fields(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(label(k), _text(document.get(k))) for k in READ_ONLY if document.get(k) is not None]


def pattern_of(name: str) -> str:
    """A list's name with each index replaced by its depth token: the key of its blank item.

    ``characters.3.voice_actors`` → ``characters.__i0__.voice_actors``: every character's
    voice-actor list shares one blank item, which the page holds once.
    """
    parts = name.split(".")
    depth = 0
    for i, part in enumerate(parts):
        if part.isdigit() or _TOKEN.match(part):
            parts[i] = f"__i{depth}__"
            depth += 1
    return ".".join(parts)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _title(value: Any) -> str:
    if isinstance(value, dict):
        if "episode_number" in value:
            title = value.get("title")
            return f"Episode {value['episode_number']}" + (
                f": {title}" if isinstance(title, str) and title else ""
            )
        for key in _TITLE_KEYS:
            found = value.get(key)
            if isinstance(found, str) and found:
                return found
    return ""


def _safe_link(text: str) -> str | None:
    """``text`` as a link target when it is an http(s) URL (never ``javascript:`` and friends)."""
    lowered = text.strip().lower()
    if lowered.startswith(("https://", "http://")) and not any(c in text for c in "\"'<> \t\n"):
        return text.strip()
    return None
