"""Merging lists of objects that several providers describe: characters, episodes, links.

Each merge walks the providers in a precedence order. The first provider that has a
value for a scalar field sets it; later ones only fill gaps. Lists of strings are
unioned (first spelling wins, case-insensitively), dicts are merged key by key (first
wins), voice actors are unioned by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

JsonDict = dict[str, Any]

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def first_of(partials: Mapping[str, JsonDict], field: str, order: Sequence[str]) -> Any:
    """The first non-empty value of ``field`` in ``order``; None when no provider has one."""
    for provider in order:
        value = partials.get(provider, {}).get(field)
        if not is_empty(value):
            return value
    return None


def union_strings(*groups: Iterable[Any]) -> list[str]:
    """Strings of every group in order, duplicates (case-insensitive, trimmed) removed."""
    seen: set[str] = set()
    out: list[str] = []
    for group in groups:
        for item in group or ():
            if not isinstance(item, str) or not item.strip():
                continue
            key = item.strip().casefold()
            if key not in seen:
                seen.add(key)
                out.append(item.strip())
    return out


def union_by(items: Iterable[JsonDict], key: str) -> list[JsonDict]:
    """Objects in order, keeping the first of each ``key`` value (objects without it kept)."""
    seen: set[str] = set()
    out: list[JsonDict] = []
    for item in items:
        value = item.get(key)
        marker = str(value).casefold() if value is not None else None
        if marker is not None and marker in seen:
            continue
        if marker is not None:
            seen.add(marker)
        out.append(item)
    return out


def merge_objects(objects: Sequence[JsonDict]) -> JsonDict:
    """Merge descriptions of one thing (most trusted first): scalars first-wins, lists unioned,
    dicts merged first-wins per key."""
    merged: JsonDict = {}
    for obj in objects:
        for field, value in obj.items():
            if is_empty(value):
                continue
            current = merged.get(field)
            if is_empty(current):
                merged[field] = value
            elif isinstance(current, list) and isinstance(value, list):
                merged[field] = _union_list(current, value)
            elif isinstance(current, dict) and isinstance(value, dict):
                merged[field] = {**value, **current}
    return merged


def _union_list(current: list[Any], extra: list[Any]) -> list[Any]:
    if all(isinstance(v, str) for v in current + extra):
        return union_strings(current, extra)
    if all(isinstance(v, dict) and "name" in v for v in current + extra):
        return union_by([*current, *extra], "name")
    return current + [v for v in extra if v not in current]


def name_key(name: str) -> frozenset[str]:
    """Order-free identity of a person's name: ``Spike Spiegel`` == ``Spiegel, Spike``."""
    return frozenset(t.casefold() for t in _TOKEN.findall(name))


def merge_characters(by_provider: Mapping[str, list[JsonDict]], order: Sequence[str]) -> list[JsonDict]:
    """One character per person across providers, in the order the most trusted provider lists them."""
    groups: dict[frozenset[str], list[JsonDict]] = {}
    for provider in order:
        for character in by_provider.get(provider, []):
            name = character.get("name")
            if isinstance(name, str) and name.strip():
                groups.setdefault(name_key(name), []).append(character)
    return [merge_objects(group) for group in groups.values()]


def merge_episodes(
    by_provider: Mapping[str, list[JsonDict]], order: Sequence[str], aired_order: Sequence[str]
) -> list[JsonDict]:
    """One episode per number: fields by ``order``, ``aired`` by ``aired_order``; sorted by number."""
    numbers: dict[int, dict[str, JsonDict]] = {}
    for provider, episodes in by_provider.items():
        for episode in episodes:
            number = episode.get("episode_number")
            if isinstance(number, int) and not isinstance(number, bool):
                numbers.setdefault(number, {}).setdefault(provider, episode)
    merged: list[JsonDict] = []
    for number in sorted(numbers):
        variants = numbers[number]
        episode = merge_objects([variants[p] for p in order if p in variants])
        aired = next(
            (variants[p]["aired"] for p in aired_order if p in variants and variants[p].get("aired")), None
        )
        if aired is not None:
            episode["aired"] = aired
        episode["episode_number"] = number
        merged.append(episode)
    return merged
