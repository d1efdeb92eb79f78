"""Base model, enums and scalar types shared by every model of the anime schema.

Round-trip fidelity is the design goal of :class:`SchemaModel`: a document that
validates must serialize back to the same keys and values. Three rules make that so:

- ``extra="allow"`` everywhere, so unknown keys are kept (as raw JSON) and dumped back;
- serialization uses ``exclude_unset`` so defaults that were not in the input are not
  added, while fields that code changed in place (``entry.images.covers.append(...)``
  on a defaulted ``images``) are marked as set first, so changes are never dropped;
- datetimes remember the exact text they were parsed from (see :data:`UtcDatetime`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    JsonValue,
    PlainSerializer,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)


class SchemaModel(BaseModel):
    """Base of every schema model: keeps unknown keys and round-trips exactly.

    Notes
    -----
    Use :meth:`from_json_dict` / :meth:`to_json_dict` (or :meth:`from_json` /
    :meth:`to_json`) at storage and message boundaries. ``model_dump()`` without
    ``exclude_unset`` would add every default and is not a faithful round trip.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_assignment=True)

    @classmethod
    def from_json_dict(cls, data: Mapping[str, object]) -> Self:
        """Validate a decoded JSON object (raises ``pydantic.ValidationError``)."""
        return cls.model_validate(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Validate a JSON document (raises ``pydantic.ValidationError``)."""
        return cls.model_validate_json(text)

    def to_json_dict(self) -> dict[str, JsonValue]:
        """The JSON object this model was read from, with any changes applied.

        Keys use their JSON names (``from``, ``animeSeason``), defaults that were
        never given are left out, and unknown keys are included unchanged.
        """
        mark_changed_fields_set(self)
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def to_json(self) -> str:
        """:meth:`to_json_dict` as compact UTF-8 JSON text."""
        mark_changed_fields_set(self)
        return self.model_dump_json(by_alias=True, exclude_unset=True)


@functools.cache
def _field_defaults(model: type[BaseModel]) -> tuple[tuple[str, object], ...]:
    """(field name, default value) of a model class, computed once per class.

    Asking pydantic for a default each time costs a signature inspection per call
    (a third of the time of writing an entry); the values are only compared, never
    handed out, so one instance per class is safe.
    """
    return tuple(
        (name, field.get_default(call_default_factory=True)) for name, field in model.model_fields.items()
    )


#: Field values with nothing inside to mark (checked by exact type: the common case).
_LEAVES: frozenset[type] = frozenset({str, int, float, bool, type(None), datetime})


def mark_changed_fields_set(value: object) -> None:
    """Mark, recursively, every field that differs from its default as set.

    ``exclude_unset`` only knows about fields given at construction or assigned;
    a defaulted list or model changed in place would otherwise be dropped on dump.
    A field still equal to its default stays unset, so it is still not added.
    """
    if isinstance(value, BaseModel):
        # The set object itself, not a copy: pydantic reads it when dumping.
        fields_set = value.__pydantic_fields_set__
        values = value.__dict__
        for name, default in _field_defaults(type(value)):
            field_value = values[name]
            if type(field_value) not in _LEAVES:
                mark_changed_fields_set(field_value)
            if name not in fields_set and field_value != default:
                fields_set.add(name)
    elif isinstance(value, list | tuple):
        for item in value:
            if type(item) not in _LEAVES:
                mark_changed_fields_set(item)
    elif isinstance(value, dict):
        for item in value.values():
            if type(item) not in _LEAVES:
                mark_changed_fields_set(item)


# --- enums ---------------------------------------------------------------------------


class AnimeType(StrEnum):
    """Distribution type. The offline database uses the first six; MAL adds the rest."""

    TV = "TV"
    MOVIE = "MOVIE"
    OVA = "OVA"
    ONA = "ONA"
    SPECIAL = "SPECIAL"
    UNKNOWN = "UNKNOWN"
    MUSIC = "MUSIC"
    PV = "PV"
    CM = "CM"


class AnimeStatus(StrEnum):
    """Status of distribution."""

    FINISHED = "FINISHED"
    ONGOING = "ONGOING"
    UPCOMING = "UPCOMING"
    UNKNOWN = "UNKNOWN"


class Season(StrEnum):
    """Season of first distribution; ``UNDEFINED`` comes from the offline database."""

    SPRING = "SPRING"
    SUMMER = "SUMMER"
    FALL = "FALL"
    WINTER = "WINTER"
    UNDEFINED = "UNDEFINED"


class SystemStatus(StrEnum):
    """Lifecycle of an entry in our store: orphaned entries left the source database."""

    ACTIVE = "ACTIVE"
    ORPHANED = "ORPHANED"


# --- UTC datetimes that keep their text ---------------------------------------------


class _ParsedDatetime(datetime):
    """A UTC datetime that remembers the exact text it was parsed from.

    Immutable like any datetime, so the text can never disagree with the value.
    Arithmetic and ``replace()`` return instances without the text, which then
    serialize in the canonical form.
    """

    __slots__ = ("source_text",)
    source_text: str

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self


def _validate_utc_datetime(value: object, handler: ValidatorFunctionWrapHandler) -> datetime:
    if not isinstance(value, str | datetime):
        # Numbers would parse as Unix time and come back as strings: not a round trip.
        raise ValueError("expected an ISO 8601 datetime string with a UTC offset")
    parsed = handler(value)
    if not isinstance(parsed, datetime) or parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("datetime needs a timezone offset (store UTC, e.g. 2024-01-31T15:00:00Z)")
    utc = parsed.astimezone(UTC)
    if not isinstance(value, str):
        return utc
    kept = _ParsedDatetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC
    )
    kept.source_text = value
    return kept


def format_utc_datetime(value: datetime) -> str:
    """The text a datetime was parsed from, else ISO 8601 in UTC with ``Z``."""
    source_text: str | None = getattr(value, "source_text", None)
    if source_text is not None:
        return source_text
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDatetime = Annotated[
    datetime,
    WrapValidator(_validate_utc_datetime),
    PlainSerializer(format_utc_datetime, return_type=str, when_used="json"),
]
"""An aware datetime, converted to UTC; naive values are rejected.

Serializes back to the exact input text when it came from a string (so
``2024-01-01T09:00:00+09:00`` stays as written), else as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``.
"""


class DatasetLicense(SchemaModel):
    """License block of a dataset file root."""

    name: str
    url: str
