"""The rule planner's working state: the query text with the phrases already taken, and the draft plan."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import ValidationError

from avs_api.agentic.plan import SearchPlan
from avs_api.agentic.rules_tables import STOP_WORDS
from avs_api.search.params import MAX_QUERY_CHARS, SearchFilters, Sort, SortOrder
from avs_shared.schema.common import AnimeStatus, AnimeType, Season

#: Stands in for taken characters: neither a word character nor a space, so no later
#: rule matches across a taken phrase.
_TAKEN = "\x00"
_EDGE_PUNCTUATION = "\"'“”‘’,;:?()[]{}"

T = TypeVar("T")


def phrase_pattern(phrase: str) -> str:
    """A regex for a lower-case phrase; a space or dash in it matches runs of spaces or dashes."""
    words = re.split(r"[\s-]+", phrase.strip())
    return r"[\s-]+".join(re.escape(w) for w in words)


def alternation(phrases: Iterable[str]) -> str:
    """A non-capturing alternation of phrases, longest first (so "rom-com" beats "rom")."""
    unique = sorted(set(phrases), key=len, reverse=True)
    return "(?:" + "|".join(phrase_pattern(p) for p in unique) + ")"


class Text:
    """The query, lower-cased in place (offsets equal the original's), and what rules took of it."""

    def __init__(self, q: str) -> None:
        self.original = q
        # Lower-case char by char, keeping characters whose lower case is longer (e.g. "İ"),
        # so every offset in ``low`` is the same offset in ``original``.
        self.low = "".join(c.lower() if len(c.lower()) == 1 else c for c in q)
        self._work = list(self.low)
        self._snapshot: str | None = self.low
        self.touched = False

    @property
    def work(self) -> str:
        """``low`` with every taken character replaced by a sentinel."""
        if self._snapshot is None:
            self._snapshot = "".join(self._work)
        return self._snapshot

    def finditer(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        return list(pattern.finditer(self.work))

    def is_free(self, start: int, end: int) -> bool:
        return _TAKEN not in self.work[start:end]

    def take(self, start: int, end: int) -> None:
        for i in range(start, end):
            self._work[i] = _TAKEN
        self._snapshot = None
        self.touched = True

    def next_taken(self, start: int) -> int:
        found = self.work.find(_TAKEN, start)
        return len(self.original) if found < 0 else found

    def verbatim(self) -> str | None:
        return " ".join(self.original.split())[:MAX_QUERY_CHARS] or None

    def leftover(self) -> str | None:
        """The words no rule took, original case, without stop words."""
        kept = "".join(o if w != _TAKEN else " " for o, w in zip(self.original, self.work, strict=True))
        words = []
        for token in kept.split():
            key = "".join(ch for ch in token.lower() if ch.isalnum() or ch == "'")
            if not key or key in STOP_WORDS:
                continue
            words.append(token.strip(_EDGE_PUNCTUATION))
        return " ".join(w for w in words if w)[:MAX_QUERY_CHARS] or None


@dataclass
class Draft:
    """Everything the rules found, before it becomes a validated plan."""

    query: str | None = None
    genres_all: list[str] = field(default_factory=list)
    genres_any: list[str] = field(default_factory=list)
    genres_exclude: list[str] = field(default_factory=list)
    tags_all: list[str] = field(default_factory=list)
    tags_any: list[str] = field(default_factory=list)
    tags_exclude: list[str] = field(default_factory=list)
    year: int | None = None
    year_from: int | None = None
    year_to: int | None = None
    season: Season | None = None
    types: list[AnimeType] = field(default_factory=list)
    types_exclude: list[AnimeType] = field(default_factory=list)
    status: list[AnimeStatus] = field(default_factory=list)
    episodes_min: int | None = None
    episodes_max: int | None = None
    score_min: float | None = None
    studios: list[str] = field(default_factory=list)
    nsfw: bool | None = None
    sort: Sort | None = None
    order: SortOrder | None = None
    similar_to: str | None = None

    def to_plan(self) -> SearchPlan:
        year_from, year_to = _ordered(self.year_from, self.year_to)
        episodes_min, episodes_max = _ordered(self.episodes_min, self.episodes_max)
        excluded_genres = _unique(self.genres_exclude)
        excluded_tags = _unique(self.tags_exclude)
        filters = SearchFilters(
            genres_all=[g for g in _unique(self.genres_all) if g not in excluded_genres],
            genres_any=[g for g in _unique(self.genres_any) if g not in excluded_genres],
            genres_exclude=excluded_genres,
            tags_all=[t for t in _unique(self.tags_all) if t not in excluded_tags],
            tags_any=[t for t in _unique(self.tags_any) if t not in excluded_tags],
            tags_exclude=excluded_tags,
            year=self.year,
            year_from=year_from,
            year_to=year_to,
            season=self.season,
            type=[t for t in _unique(self.types) if t not in self.types_exclude],
            status=_unique(self.status),
            episodes_min=episodes_min,
            episodes_max=episodes_max,
            score_min=self.score_min,
            studios=_unique(self.studios),
            nsfw=self.nsfw,
        )
        try:
            return SearchPlan(
                query=self.query,
                filters=filters,
                sort=self.sort,
                order=self.order,
                similar_to=self.similar_to,
            )
        except ValidationError:
            # Only an over-long title can get here; the rest is built valid. Drop it.
            return SearchPlan(query=self.query, filters=filters, sort=self.sort, order=self.order)


def _unique(values: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(values))


def _ordered(low: int | None, high: int | None) -> tuple[int | None, int | None]:
    if low is not None and high is not None and low > high:
        return high, low
    return low, high
