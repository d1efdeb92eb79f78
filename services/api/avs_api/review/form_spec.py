"""The shape of the entry form, read from the ``AnimeEntry`` schema itself.

Every pydantic field becomes a node: a scalar (text, number, yes/no, choice, UTC
datetime, "number or text"), an image item (a URL or a failed-image placeholder), a
list, a map (edited as key/value rows), a nested object, or free JSON (fields the
schema types as arbitrary JSON). A field added to the schema appears in the form
without touching this package; keys the schema does not know are edited as JSON.
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Literal, Union, get_args, get_origin

from pydantic import BaseModel, JsonValue

from avs_shared.schema import AnimeEntry

ScalarKind = Literal["str", "text", "int", "float", "bool", "enum", "datetime", "int_or_str"]

LONG_TEXT = frozenset({"synopsis", "background", "description", "biography", "delay_reason"})


@dataclass(frozen=True)
class Scalar:
    kind: ScalarKind
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageItem:
    """``str | ImagePlaceholder``: an image URL, or the placeholder of an image that failed."""


@dataclass(frozen=True)
class FreeJson:
    """Any JSON value, edited as JSON text."""


@dataclass(frozen=True)
class ListOf:
    item: Node


@dataclass(frozen=True)
class MapOf:
    """``dict[str, X]``: rows of key and value."""

    value: Node


@dataclass(frozen=True)
class FieldSpec:
    key: str  # the JSON name (alias)
    label: str
    node: Node
    required: bool


@dataclass(frozen=True)
class ObjectOf:
    name: str
    fields: tuple[FieldSpec, ...]

    def field(self, key: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.key == key), None)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(f.key for f in self.fields)


Node = Scalar | ImageItem | FreeJson | ListOf | MapOf | ObjectOf


def entry_spec() -> ObjectOf:
    """The form spec of :class:`AnimeEntry`."""
    return object_spec(AnimeEntry)


@functools.cache
def object_spec(model: type[BaseModel]) -> ObjectOf:
    fields = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        fields.append(FieldSpec(key, label(key), node_for(info.annotation, key), info.is_required()))
    return ObjectOf(model.__name__, tuple(fields))


def node_for(annotation: object, key: str = "") -> Node:
    """The form node of a field annotation (``Optional`` is the field's business, not the node's)."""
    tp = _without_none(annotation)
    origin = get_origin(tp)
    if tp is JsonValue:
        return FreeJson()
    if origin is Annotated:
        base = get_args(tp)[0]
        return Scalar("datetime") if base is datetime else node_for(base, key)
    if origin in (Union, types.UnionType):
        members = set(get_args(tp)) - {type(None)}
        if members == {str, int}:
            return Scalar("int_or_str")
        if str in members and any(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
            return ImageItem()
        return FreeJson()
    if origin is list:
        return ListOf(node_for(get_args(tp)[0], key))
    if origin is dict:
        value = get_args(tp)[1]
        return FreeJson() if value is JsonValue else MapOf(node_for(value, key))
    if isinstance(tp, type):
        if issubclass(tp, bool):
            return Scalar("bool")
        if issubclass(tp, Enum):
            return Scalar("enum", tuple(str(m.value) for m in tp))
        if issubclass(tp, str):
            return Scalar("text" if key in LONG_TEXT else "str")
        if issubclass(tp, int):
            return Scalar("int")
        if issubclass(tp, float):
            return Scalar("float")
        if issubclass(tp, datetime):
            return Scalar("datetime")
        if issubclass(tp, BaseModel):
            return object_spec(tp)
    return FreeJson()


def _without_none(annotation: object) -> object:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [m for m in get_args(annotation) if m is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def label(key: str) -> str:
    """``title_english`` → ``Title english``."""
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# --- tabs ---------------------------------------------------------------------------------

READ_ONLY = ("id", "version", "updated_at")
"""Shown, never edited: the store manages them (the service keeps the proposal's values)."""

CORE_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Titles", ("title", "title_english", "title_japanese", "synonyms")),
    (
        "Classification",
        ("type", "status", "episodes", "duration", "season", "year", "month", "rating", "nsfw"),
    ),
    ("Story", ("synopsis", "background", "source_material")),
    ("Genres and tags", ("genres", "tags", "demographics", "themes", "content_warnings")),
    (
        "Airing",
        ("aired_dates", "broadcast", "broadcast_schedule", "premiere_dates", "delay_information"),
    ),
    ("Scores", ("score", "statistics", "popularity_trends")),
    (
        "Music, trailers and streaming",
        ("opening_themes", "ending_themes", "trailers", "streaming_info", "streaming_licenses"),
    ),
    ("Sources and links", ("sources", "external_links")),
    ("Enrichment and lifecycle", ("enrichment_metadata", "system_status", "orphaned_at")),
)

TABS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("core", "Core Info", tuple(k for _, keys in CORE_SECTIONS for k in keys)),
    ("characters", "Characters", ("characters",)),
    ("relationships", "Relationships", ("related_anime", "relations")),
    ("episodes", "Episodes", ("episode_details",)),
    ("images", "Images", ("images",)),
    ("staff", "Staff", ("staff_data",)),
)
"""(tab id, title, top-level fields). Fields in no tab (a future schema field) go to Core Info."""

SINGULAR: dict[str, str] = {
    "characters": "character",
    "episode_details": "episode",
    "related_anime": "related anime",
    "relations": "relation",
    "voice_actors": "voice actor",
    "production_staff": "role group",
    "studios": "studio",
    "producers": "producer",
    "licensors": "licensor",
    "covers": "cover",
    "posters": "poster",
    "banners": "banner",
    "images": "image",
    "opening_themes": "opening theme",
    "ending_themes": "ending theme",
    "trailers": "trailer",
    "streaming_info": "stream",
    "themes": "theme",
    "contextual_ranks": "rank",
    "statistics": "provider",
    "external_links": "link",
}


def tab_of(key: str) -> str:
    """The tab a top-level field is edited on."""
    return next((tab for tab, _, keys in TABS if key in keys), "core")
