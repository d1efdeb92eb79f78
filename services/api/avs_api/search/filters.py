"""``SearchFilters`` (what a client asks) → ``SearchFilter`` (what the vector index runs).

Pure functions: no I/O. The catalogue's spelling of genres and ratings is passed in
as a :class:`Vocabulary` (the service reads it from the index's facets and caches it),
so ``genre=sci-fi`` finds ``Sci-Fi`` and ``rating=PG-13`` finds
``PG-13 - Teens 13 or older``.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from avs_shared.ports.vector import Condition, IsEmpty, Match, MatchAny, Range, SearchFilter, StatusScope

from .params import SearchFilters

#: Payload fields the vocabulary covers (small keyword sets that people misspell by case).
VOCABULARY_FIELDS = ("genres", "rating")


def fold(text: str) -> str:
    """Case- and width-insensitive form used to compare names."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


@dataclass(frozen=True)
class Vocabulary:
    """Folded spelling → the catalogue's spellings, per payload field.

    A rating's code (the part before `` - ``) is an extra spelling of it.
    """

    spellings: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: Mapping[str, Iterable[str]]) -> Vocabulary:
        spellings: dict[str, dict[str, tuple[str, ...]]] = {}
        for field_name, names in values.items():
            table: dict[str, tuple[str, ...]] = {}
            for name in names:
                keys = {fold(name)}
                if field_name == "rating" and " - " in name:
                    keys.add(fold(name.split(" - ", 1)[0]))
                for key in keys:
                    table[key] = (*table.get(key, ()), name)
            spellings[field_name] = table
        return cls(spellings)

    def canonical(self, field_name: str, values: Sequence[str]) -> list[str]:
        """Every catalogue spelling of ``values``; an unknown value stays as given."""
        table = self.spellings.get(field_name, {})
        out: dict[str, None] = {}
        for value in values:
            for name in table.get(fold(value), (value,)):
                out.setdefault(name, None)
        return list(out)


def needs_vocabulary(filters: SearchFilters) -> bool:
    return bool(filters.genres_all or filters.genres_any or filters.genres_exclude or filters.rating)


def to_search_filter(filters: SearchFilters, vocabulary: Vocabulary | None = None) -> SearchFilter:
    """The index filter for ``filters``: every given filter must hold."""
    vocab = vocabulary or Vocabulary()
    must: list[Condition] = []
    must_not: list[Condition] = []

    def genres(values: Sequence[str]) -> list[str]:
        return vocab.canonical("genres", values)

    # "all of": one condition per value. A genre spelled two ways in the catalogue
    # (rare) must match either spelling, hence MatchAny of its spellings.
    for genre in filters.genres_all:
        must.append(_any_or_one("genres", genres([genre])))
    for tag in filters.tags_all:
        must.append(Match("tags", tag))
    if filters.genres_any:
        must.append(MatchAny("genres", genres(filters.genres_any)))
    if filters.tags_any:
        must.append(MatchAny("tags", list(filters.tags_any)))
    if filters.genres_exclude:
        must_not.append(MatchAny("genres", genres(filters.genres_exclude)))
    if filters.tags_exclude:
        must_not.append(MatchAny("tags", list(filters.tags_exclude)))

    if filters.year is not None:
        must.append(Match("year", filters.year))
    if filters.year_from is not None or filters.year_to is not None:
        must.append(Range("year", gte=filters.year_from, lte=filters.year_to))
    if filters.season is not None:
        must.append(Match("season", str(filters.season)))
    if filters.type:
        must.append(MatchAny("type", [str(t) for t in filters.type]))
    if filters.status:
        must.append(MatchAny("status", [str(s) for s in filters.status]))
    if filters.episodes_min is not None or filters.episodes_max is not None:
        must.append(Range("episodes", gte=filters.episodes_min, lte=filters.episodes_max))
    if filters.score_min is not None:
        must.append(Range("score", gte=filters.score_min))
    if filters.studios:
        must.append(MatchAny("studios", list(filters.studios)))
    if filters.nsfw is not None:
        must.append(Match("nsfw", filters.nsfw))
    if filters.rating:
        must.append(MatchAny("rating", vocab.canonical("rating", filters.rating)))

    status = StatusScope.ANY if filters.include_orphaned else StatusScope.ACTIVE
    return SearchFilter(must=tuple(must), must_not=tuple(must_not), status=status)


def with_condition(
    base: SearchFilter, *, must: Sequence[Condition] = (), must_not: Sequence[Condition] = ()
) -> SearchFilter:
    """``base`` narrowed by more conditions."""
    return SearchFilter(
        must=(*base.must, *must), should=base.should, must_not=(*base.must_not, *must_not), status=base.status
    )


def missing(field_name: str) -> IsEmpty:
    return IsEmpty(field_name)


def fingerprint(*parts: object) -> str:
    """A short stable hash of a search's inputs, carried in cursors to catch reuse elsewhere."""
    raw = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2s(raw.encode(), digest_size=6).hexdigest()


def _any_or_one(field_name: str, values: list[str]) -> Condition:
    return Match(field_name, values[0]) if len(values) == 1 else MatchAny(field_name, values)
