"""The built-in rule planner: the default planner and every LLM planner's fallback.

It reads a query the way a person skims it: each rule finds phrases it understands
(years, decades, seasons, types, statuses, episode counts, sort hints, genres and their
negations, studios, "like <title>") and takes them out of the text; whatever words are
left, minus stop words, are the refined query text. A query none of the rules touch is
kept verbatim (a title or a plot description searches best as written).

Rules run in a fixed order and never overlap: a phrase taken by one rule is invisible to
the rules after it ("between 10 and 26 episodes" is an episode range, not years).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from avs_api.agentic.plan import SearchPlan
from avs_api.agentic.planner import PlannerName
from avs_api.agentic.rules_tables import (
    ADULT_PHRASES,
    LISTED_TYPES,
    MEDIA_NOUNS,
    NUMBER_WORDS,
    SAFE_PHRASES,
    SORTS,
    STATUSES,
    STUDIOS,
    TYPES,
)
from avs_api.agentic.rules_text import Draft, Text, alternation
from avs_api.agentic.rules_time import take_time
from avs_api.agentic.vocabulary import Concept, Vocabulary
from avs_api.search.params import Sort
from avs_shared.schema.common import AnimeType

_MEDIA = alternation(MEDIA_NOUNS)
_NUM = r"(\d{1,5}|" + "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True)) + ")"
_EPS = r"(?:episodes?|eps?)(?!\w)"
_NEGATORS = (
    r"(?:not|no|without|w/o|excluding|exclude|except(?:\s+for)?|minus|nothing|avoid|skip|"
    r"anything\s+but|free\s+of|never|non|nope)"
)
_LIKE_BEFORE = frozenset(
    {"something", "anything", "stuff", "more", "ones", "others", "titles", "things", "thing", "shows"}
)
_SIMILAR_MARKERS = re.compile(
    r"(?<!\w)(?:similar\s+to|similar\s+with|reminiscent\s+of|in\s+the\s+vein\s+of|along\s+the\s+lines\s+of|"
    r"in\s+the\s+style\s+of|the\s+likes\s+of|comparable\s+to|same\s+vibes?\s+as|(?:for\s+)?fans\s+of|"
    r"(?:if|since)\s+(?:i|you|we)\s+(?:liked|loved|enjoyed|like|love|enjoy))\s+"
)
_TITLE_END = re.compile(
    r"[,?()\[\]]|;\s|\s[-–—]\s|\s(?:but|though|however|except|excluding|without|that|which|who|where|only|"
    r"released|aired|set|"
    r"please|with\s+(?:more|less|fewer|lots|plenty|some|no|a\s+bit|better|a\s+lot))(?!\w)"
)


def _num(text: str) -> int:
    return int(text) if text.isdigit() else NUMBER_WORDS[" ".join(text.replace("-", " ").split())]


class RulePlanner:
    """Plans from phrase rules. Deterministic, no I/O, always answers.

    ``today`` is the clock for "this year" and "this season" (injected for tests).
    """

    name: PlannerName = "rules"

    def __init__(
        self, vocabulary: Vocabulary | None = None, *, today: Callable[[], date] = date.today
    ) -> None:
        self.vocabulary = vocabulary or Vocabulary()
        self._today = today
        self._concepts = _ConceptMatcher(self.vocabulary.concepts)
        item = f"(?:{self._concepts.any_pattern}|{_TYPE_ALT})"
        self._negation = re.compile(
            rf"(?<!\w){_NEGATORS}(?:[\s-]+|(?=-))-?(?:(?:any|too|much|more|the|a|an|really)\s+)*"
            rf"(?P<items>{item}(?:\s*(?:,|/|or|and|nor)\s*(?:(?:no|not|any)\s+)?{item})*)"
            rf"(?:\s+{_MEDIA})?(?!\w)"
        )
        # "like" compares when it follows one of these ("anime like X"), not a verb ("I like X").
        self._like_after = frozenset({*_LIKE_BEFORE, *MEDIA_NOUNS, *_TYPE_WORDS, *self._concepts.words})

    async def plan(self, q: str) -> SearchPlan:
        return self.plan_now(q)

    def plan_now(self, q: str) -> SearchPlan:
        """The plan for ``q`` (synchronous: rules do no I/O)."""
        text = Text(q)
        draft = Draft()
        marker = _find_similarity_marker(text, self._like_after)
        _take_episodes(text, draft)
        take_time(text, draft, self._today())
        _take_score(text, draft)
        _take_nsfw(text, draft)
        _take_sort(text, draft)
        _take_status(text, draft)
        self._take_negations(text, draft)
        self._take_concepts(text, draft)
        _take_types(text, draft)
        _take_studios(text, draft)
        if marker is not None:
            _take_title(text, draft, marker)
        draft.query = text.leftover() if text.touched else text.verbatim()
        return draft.to_plan()

    def _take_negations(self, text: Text, draft: Draft) -> None:
        for match in text.finditer(self._negation):
            items = match.group("items")
            for concept in self._concepts.find_all(items, weak_ok=True):
                resolved = self.vocabulary.resolve(concept)
                draft.genres_exclude.extend(resolved.genres)
                draft.tags_exclude.extend(resolved.all_tags or resolved.tags)
            for anime_type in _types_in(items):
                draft.types_exclude.append(anime_type)
            text.take(match.start(), match.end())

    def _take_concepts(self, text: Text, draft: Draft) -> None:
        found: list[tuple[int, int, Concept]] = []
        for match in text.finditer(self._concepts.pattern):
            concept = self._concepts.by_phrase(match.group(0), weak_ok=False)
            if concept is None:
                if not _weak_allowed(text, match.start(), match.end()):
                    continue
                concept = self._concepts.by_phrase(match.group(0), weak_ok=True)
            if concept is not None:
                found.append((match.start(), match.end(), concept))
        groups: list[list[Concept]] = []
        previous_end: int | None = None
        for start, end, concept in found:
            joined_by_or = previous_end is not None and re.fullmatch(
                r"\s*,?\s*(?:or|/)\s*", text.low[previous_end:start]
            )
            if joined_by_or and groups:
                groups[-1].append(concept)
            else:
                groups.append([concept])
            previous_end = end
            text.take(start, end)
        for group in groups:
            resolved = [self.vocabulary.resolve(c) for c in group]
            if len(group) == 1:
                draft.genres_all.extend(resolved[0].genres)
                draft.tags_all.extend(resolved[0].tags)
            else:
                draft.genres_any.extend(g for r in resolved for g in r.genres)
                draft.tags_any.extend(t for r in resolved for t in r.tags)


class _ConceptMatcher:
    """One regex over every concept phrase (longest first) and a phrase → concept table."""

    def __init__(self, concepts: tuple[Concept, ...]) -> None:
        self._strong: dict[str, Concept] = {}
        self._weak: dict[str, Concept] = {}
        for concept in concepts:
            for phrase in concept.phrases:
                self._strong.setdefault(_key(phrase), concept)
            for phrase in concept.weak:
                self._weak.setdefault(_key(phrase), concept)
        phrases = [*(p for c in concepts for p in c.phrases), *(p for c in concepts for p in c.weak)]
        self.any_pattern = alternation(phrases)
        self.pattern = re.compile(rf"(?<!\w){self.any_pattern}(?!\w)")
        # Last words only: "slice of life" lets "life like ..." read as a comparison, not "of like".
        self.words = frozenset(p.replace("-", " ").split()[-1] for p in phrases)

    def by_phrase(self, phrase: str, *, weak_ok: bool) -> Concept | None:
        key = _key(phrase)
        return self._strong.get(key) or (self._weak.get(key) if weak_ok else None)

    def find_all(self, text: str, *, weak_ok: bool) -> list[Concept]:
        found = (self.by_phrase(m.group(0), weak_ok=weak_ok) for m in self.pattern.finditer(text))
        return [c for c in found if c is not None]


def _key(phrase: str) -> str:
    return " ".join(phrase.replace("-", " ").replace("'", "").split())


def _weak_allowed(text: Text, start: int, end: int) -> bool:
    """A weak word counts before a media noun ("scary movies") or after "something"."""
    after = re.match(rf"\s+{_MEDIA}(?!\w)", text.work[end:])
    before = re.search(r"(?<!\w)(?:something|anything)\s+$", text.work[:start])
    return after is not None or before is not None


# ----------------------------------------------------------------------------- rules


def _find_similarity_marker(text: Text, like_after: frozenset[str]) -> tuple[int, int] | None:
    """Where "like <title>" / "similar to <title>" starts and its marker ends, if anywhere."""
    candidates: list[tuple[int, int]] = []
    marker = _SIMILAR_MARKERS.search(text.low)
    if marker:
        candidates.append((marker.start(), marker.end()))
    for like in re.finditer(r"(?:^|(?<=\s))like\s+(?=\S)", text.low):
        before = text.low[: like.start()].split()
        previous = before[-1].strip(",.;:!?\"'") if before else ""
        if not before or previous in like_after:
            candidates.append((like.start(), like.end()))
            break
    return min(candidates) if candidates else None


def _take_title(text: Text, draft: Draft, marker: tuple[int, int]) -> None:
    start = marker[1]
    end = text.next_taken(start)
    boundary = _TITLE_END.search(text.low, start, end)
    if boundary:
        end = boundary.start()
    title = text.original[start:end]
    words = title.split()
    while words and words[-1].lower().strip(".,!?") in _TITLE_TRAILERS:
        words.pop()
    cleaned = " ".join(words).strip(" \"'“”‘’:")
    if cleaned:
        draft.similar_to = cleaned
        text.take(marker[0], start + len(title))


_TITLE_TRAILERS = frozenset(
    {"and", "or", "but", "with", "from", "in", "of", "the", "a", "an", "for", "to"} | {*MEDIA_NOUNS}
)


def _take_episodes(text: Text, draft: Draft) -> None:
    rules: list[tuple[str, Callable[[re.Match[str]], tuple[int | None, int | None]]]] = [
        (rf"(?:between|from)\s+{_NUM}\s+(?:and|to|-)\s+{_NUM}\s+{_EPS}", lambda m: (_num(m[1]), _num(m[2]))),
        (rf"{_NUM}\s*(?:-|–|to)\s*{_NUM}\s+{_EPS}", lambda m: (_num(m[1]), _num(m[2]))),
        (rf"(?:under|less\s+than|fewer\s+than|below|<)\s*{_NUM}\s+{_EPS}", lambda m: (None, _num(m[1]) - 1)),
        (
            rf"(?:at\s+most|up\s+to|max(?:imum)?|no\s+more\s+than|not\s+more\s+than|<=)\s*{_NUM}\s+{_EPS}",
            lambda m: (None, _num(m[1])),
        ),
        (rf"{_NUM}\s+{_EPS}\s+or\s+(?:less|fewer|under|shorter)", lambda m: (None, _num(m[1]))),
        (rf"(?:over|more\s+than|above|>)\s*{_NUM}\s+{_EPS}", lambda m: (_num(m[1]) + 1, None)),
        (rf"(?:at\s+least|min(?:imum)?|no\s+less\s+than|>=)\s*{_NUM}\s+{_EPS}", lambda m: (_num(m[1]), None)),
        (
            rf"{_NUM}\s*\+\s*{_EPS}|{_NUM}\s+{_EPS}\s+or\s+(?:more|longer|over)",
            lambda m: (_num(m[1] or m[2]), None),
        ),
        (rf"{_NUM}[\s-]+{_EPS}(?:\s+long)?", lambda m: (_num(m[1]), _num(m[1]))),
        (r"(?:one|single|1)[\s-]+cour", lambda m: (None, 13)),
        (r"long[\s-]+running|lengthy|long\s+(?=(?:anime|series|shows?)\b)", lambda m: (50, None)),
        (r"(?:not|isn't|aren't|isnt|arent)\s+(?:too|that|very)?\s*long", lambda m: (None, 26)),
        (r"short", lambda m: (None, 13)),
    ]
    for pattern, bounds in rules:
        for match in text.finditer(re.compile(rf"(?<!\w)(?:{pattern})(?!\w)")):
            low, high = bounds(match)
            draft.episodes_min = low if low is not None else draft.episodes_min
            draft.episodes_max = high if high is not None else draft.episodes_max
            text.take(match.start(), match.end())


def _take_score(text: Text, draft: Draft) -> None:
    number = r"(\d{1,2}(?:\.\d{1,2})?)(?:\s*/\s*10)?"
    comparator = (
        r"(?:(?:above|over|at\s+least|higher\s+than|more\s+than|greater\s+than|better\s+than|>=|>|≥)\s*)?"
    )
    patterns = (
        rf"(?:with\s+(?:an?\s+)?)?(?:scored?|scores|rated|rating|ratings)\s+(?:of\s+)?{comparator}{number}"
        rf"(?:\s*\+|\s+or\s+(?:more|higher|above|better))?",
        rf"{number}\s*(?:\+|\s+or\s+(?:more|higher|above|better))?\s+(?:scores?|ratings?|rated|stars?)",
    )
    for pattern in patterns:
        for match in text.finditer(re.compile(rf"(?<!\w){pattern}(?!\w)")):
            value = float(match[1])
            if 0 <= value <= 10:
                draft.score_min = value
                text.take(match.start(), match.end())


def _take_nsfw(text: Text, draft: Draft) -> None:
    for phrases, value in ((SAFE_PHRASES, False), (ADULT_PHRASES, True)):
        for match in text.finditer(re.compile(rf"(?<!\w){alternation(phrases)}(?!\w)")):
            draft.nsfw = value if draft.nsfw is None else draft.nsfw
            text.take(match.start(), match.end())


def _take_sort(text: Text, draft: Draft) -> None:
    hits: list[tuple[int, int, int]] = []
    for index, (_, _, phrases) in enumerate(SORTS):
        pattern = re.compile(rf"(?<!\w)(?:{alternation(phrases)})(?:\s+\d{{1,3}})?(?!\w)")
        hits.extend((m.start(), m.end(), index) for m in text.finditer(pattern))
    newest = next(i for i, (sort, order, _) in enumerate(SORTS) if sort is Sort.YEAR and order is None)
    new_media = re.compile(rf"(?<!\w)new(?=\s+{_MEDIA}(?!\w))")
    hits.extend((m.start(), m.end(), newest) for m in text.finditer(new_media))
    for start, end, index in sorted(hits):
        if not text.is_free(start, end):
            continue
        if draft.sort is None:
            draft.sort, draft.order = SORTS[index][0], SORTS[index][1]
        text.take(start, end)


def _take_status(text: Text, draft: Draft) -> None:
    for statuses, phrases in STATUSES:
        for match in text.finditer(re.compile(rf"(?<!\w){alternation(phrases)}(?!\w)")):
            draft.status.extend(statuses)
            text.take(match.start(), match.end())


_TYPE_ALT = alternation([p for _, phrases in TYPES for p in phrases])
_TYPE_WORDS = frozenset(w for _, phrases in TYPES for p in phrases for w in p.split())


def _types_in(text: str) -> list[AnimeType]:
    found: list[AnimeType] = []
    for anime_type, phrases in TYPES:
        if re.search(rf"(?<!\w){alternation(phrases)}(?!\w)", text):
            found.append(anime_type)
    return found


def _take_types(text: Text, draft: Draft) -> None:
    for anime_type, phrases in TYPES:
        for match in text.finditer(re.compile(rf"(?<!\w){alternation(phrases)}(?!\w)")):
            draft.types.append(anime_type)
            text.take(match.start(), match.end())
    if draft.types_exclude and not draft.types:
        draft.types = [t for t in LISTED_TYPES if t not in draft.types_exclude]


def _take_studios(text: Text, draft: Draft) -> None:
    lead = r"(?:(?:made|animated|produced|created)\s+by|by|from)\s+"
    for name, anywhere, prefixed in STUDIOS:
        alternatives = []
        if anywhere:
            alternatives.append(rf"(?:{lead})?(?:studio\s+)?{alternation(anywhere)}(?:\s+studios?)?")
        if prefixed:
            words = alternation(prefixed)
            alternatives.append(rf"(?:{lead})?studio\s+{words}|{lead}{words}|{words}\s+studios?")
        pattern = re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)")
        for match in text.finditer(pattern):
            draft.studios.append(name)
            text.take(match.start(), match.end())
