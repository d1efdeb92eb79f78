"""What every provider client is: a name, the ids it needs, and two fetches.

A client maps the provider's own shapes to a *partial entry*: a dict with the keys and
JSON shapes of :class:`~avs_shared.schema.AnimeEntry` (``synopsis``, ``characters``,
``episode_details``, ``statistics``, ...), holding only what that provider said.
:mod:`avs_enricher.assembly` merges the partials by the precedence rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import unescape
from typing import Any, Protocol

from avs_enricher.providers.http import ProviderError, ProviderNotFound
from avs_enricher.providers.ids import ProviderIds

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Subject:
    """The anime a provider is asked about."""

    ids: ProviderIds
    title: str
    synonyms: tuple[str, ...] = ()


@dataclass
class ProviderData:
    """One provider's partial entry (entry JSON keys → values)."""

    provider: str
    fields: JsonDict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # parts that failed, e.g. "episodes: timed out"


class AnimeProvider(Protocol):
    """A provider client."""

    name: str

    def skip_reason(self, subject: Subject) -> str | None:
        """Why this provider cannot be asked about ``subject`` (no id, not configured); None if it can."""
        ...

    async def anime(self, subject: Subject) -> ProviderData:
        """Everything the provider knows about the anime.

        Raises
        ------
        ProviderNotFound
            The provider has no such anime.
        ProviderError
            The provider failed (after retries); ``reason`` says how.
        """
        ...

    async def episode(self, subject: Subject, number: int) -> JsonDict | None:
        """One episode as ``EpisodeDetail`` JSON, or None when the provider has no data for it."""
        ...


def dig(value: Any, *path: str | int, default: Any = None) -> Any:
    """``value[path[0]][path[1]]...`` or ``default`` where a step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return default
        elif not isinstance(value, Mapping) or step not in value:
            return default
        value = value[step]
    return default if value is None else value


def text(value: Any) -> str | None:
    """A non-empty stripped string, else None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def number(value: Any) -> float | None:
    """A finite number from a number or numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def integer(value: Any) -> int | None:
    found = number(value)
    return int(found) if found is not None and found == int(found) else None


_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>", re.I)


def html_to_text(value: Any) -> str | None:
    """AniList's HTML descriptions as plain text (tags removed, entities decoded)."""
    raw = text(value)
    if raw is None:
        return None
    plain = unescape(_TAG.sub("", _BREAK.sub("\n", raw)))
    return re.sub(r"\n{3,}", "\n\n", plain).strip() or None


def compact(values: Mapping[str, Any]) -> JsonDict:
    """``values`` without None, empty strings, empty lists and empty dicts."""
    return {k: v for k, v in values.items() if v is not None and v != "" and v != [] and v != {}}


def load_json(provider: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ProviderError(provider, f"answer is not JSON ({exc})") from exc


def require_object(provider: str, value: Any, what: str) -> JsonDict:
    if not isinstance(value, dict):
        raise ProviderNotFound(provider, f"no {what} in the answer")
    return value
