"""Time rules: years, ranges, decades, seasons and "this year" / "this season"."""

from __future__ import annotations

import re
from datetime import date

from avs_api.agentic.rules_tables import DECADE_WORDS, MEDIA_NOUNS
from avs_api.agentic.rules_text import Draft, Text, alternation
from avs_shared.schema.common import Season

_YEAR = r"(?:19\d\d|20\d\d)"
_DECADE = (
    r"(?:(?:early|mid|late)[\s-]+)?(?:the\s+)?"
    r"(?:(?:19|20)\d0(?:'|’)?s|(?:'|’)?\d0(?:'|’)?s|" + alternation(DECADE_WORDS) + ")"
)
#: A year or a decade: "1997", "the 90s", "'80s", "1980s", "early 2000s", "the nineties".
_WHEN = rf"(?:{_DECADE}|{_YEAR})"
_YEARS_AHEAD = 3
_SEASONS = {"winter": Season.WINTER, "spring": Season.SPRING, "summer": Season.SUMMER}
_SEASONS |= {"fall": Season.FALL, "autumn": Season.FALL}
_SEASON = r"(?P<season>winter|spring|summer|fall|autumn)"
_LEAD = r"(?:(?:released|aired|made|premiered|came\s+out|airing)\s+)?(?:(?:in|from|of|during|around)\s+)?"
_POSSESSIVE = re.compile(r"(?:his|her|their|my|your|our|its|one's)\s+(?:(?:early|mid|late)[\s-]+)?$")
_FROM_INCLUSIVE = r"since|starting(?:\s+(?:in|from))?|from\s+(?:at\s+least)"
_FROM_EXCLUSIVE = r"after|post|later\s+than|newer\s+than"
_TO_EXCLUSIVE = r"before|pre|prior\s+to|older\s+than|earlier\s+than"
_TO_INCLUSIVE = r"until|till|up\s+to|through|thru|no\s+later\s+than"
_OPEN_END = (
    r"on(?:wards?)?|and\s+(?:later|newer|after|up|beyond)|or\s+(?:later|newer|after)"
    r"|to\s+(?:now|today|present)"
)
_OPEN_START = r"or\s+(?:earlier|before|older|prior)|and\s+(?:earlier|before|older|prior)"


def span_of(token: str) -> tuple[int, int]:
    """The first and last year a year or decade token covers."""
    token = token.strip()
    if re.fullmatch(_YEAR, token):
        return int(token), int(token)
    modifier = re.match(r"(early|mid|late)[\s-]+", token)
    rest = re.sub(r"^(?:(?:early|mid|late)[\s-]+)?(?:the\s+)?", "", token).replace("’", "'")
    if rest in DECADE_WORDS or " ".join(rest.split()) in DECADE_WORDS:
        start = DECADE_WORDS[" ".join(rest.split())]
    else:
        digits = rest.strip("'s")
        start = int(digits) if len(digits) == 4 else (1900 if int(digits) >= 30 else 2000) + int(digits)
    if modifier is None:
        return start, start + 9
    return {"early": (start, start + 3), "mid": (start + 4, start + 6), "late": (start + 7, start + 9)}[
        modifier.group(1)
    ]


def season_of(day: date) -> Season:
    return (Season.WINTER, Season.SPRING, Season.SUMMER, Season.FALL)[(day.month - 1) // 3]


def take_time(text: Text, draft: Draft, today: date) -> None:
    # A year further ahead than announcements go is a number in a title ("Blade Runner 2049").
    latest = today.year + _YEARS_AHEAD
    _drop_negated_times(text)
    _take_relative(text, draft, today)
    _take_season_years(text, draft, latest)
    _take_ranges(text, draft, latest)
    _take_open_ranges(text, draft, latest)
    _take_exact(text, draft, latest)
    _take_bare_seasons(text, draft)


def _plausible(match: re.Match[str], latest: int) -> bool:
    tokens = [v for k, v in match.groupdict().items() if k in ("a", "b", "year") and v]
    return all(span_of(token)[0] <= latest for token in tokens)


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?:{pattern})(?!\w)")


def _drop_negated_times(text: Text) -> None:
    """ "not from the 2000s": a filter cannot leave out a span of years, so no year filter at all
    (rather than its opposite, which the words alone would give)."""
    pattern = _compile(
        rf"(?:not|never|excluding|except|without)\s+(?:(?:from|in|during|of)\s+)?(?:the\s+)?"
        rf"(?:{_SEASON}\s+)?{_WHEN}(?:\s+or\s+(?:the\s+)?{_WHEN})?"
    )
    for match in text.finditer(pattern):
        text.take(match.start(), match.end())


def _take_relative(text: Text, draft: Draft, today: date) -> None:
    pattern = _compile(
        r"(?:(?:from|in|of|during)\s+)?(?P<which>this|last|next|current|previous)\s+(?P<unit>year|season)('s)?"
    )
    for match in text.finditer(pattern):
        which, unit = match["which"], match["unit"]
        step = {"last": -1, "previous": -1, "next": 1}.get(which, 0)
        if unit == "year":
            draft.year = today.year + step
        else:
            quarter = (today.month - 1) // 3 + step
            year, quarter = today.year + quarter // 4, quarter % 4
            draft.year, draft.season = (
                year,
                (Season.WINTER, Season.SPRING, Season.SUMMER, Season.FALL)[quarter],
            )
        text.take(match.start(), match.end())


def _take_season_years(text: Text, draft: Draft, latest: int) -> None:
    patterns = (
        rf"{_LEAD}(?:the\s+)?{_SEASON}(?:\s+season)?(?:\s+of)?\s+(?P<year>{_YEAR})",
        rf"{_LEAD}(?P<year>{_YEAR})(?:'s)?\s+{_SEASON}(?:\s+season)?",
    )
    for pattern in patterns:
        for match in text.finditer(_compile(pattern)):
            if not _plausible(match, latest):
                continue
            draft.season = _SEASONS[match["season"]]
            draft.year = int(match["year"])
            text.take(match.start(), match.end())


def _take_ranges(text: Text, draft: Draft, latest: int) -> None:
    patterns = (
        rf"{_LEAD}(?:between|from)\s+(?:the\s+years?\s+)?(?P<a>{_WHEN})\s*(?:and|to|until|till|through|thru|-|–|—)"
        rf"\s*(?P<b>{_WHEN})",
        rf"{_LEAD}(?P<a>{_WHEN})\s*(?:-|–|—|to|through|thru)\s*(?P<b>{_WHEN})",
    )
    for pattern in patterns:
        for match in text.finditer(_compile(pattern)):
            if not _plausible(match, latest):
                continue
            (first, _), (_, last) = span_of(match["a"]), span_of(match["b"])
            draft.year_from, draft.year_to = min(first, last), max(first, last)
            text.take(match.start(), match.end())


def _take_open_ranges(text: Text, draft: Draft, latest: int) -> None:
    """ "since 2010", "after the 90s", "before 2000", "2015 onwards", "1995 or earlier"."""
    rules = (
        (rf"(?:{_FROM_INCLUSIVE})[\s-]+(?:the\s+)?(?P<a>{_WHEN})", lambda first, last: (first, None)),
        (rf"(?:{_FROM_EXCLUSIVE})[\s-]+(?:the\s+)?(?P<a>{_WHEN})", lambda first, last: (last + 1, None)),
        (rf"(?:{_TO_EXCLUSIVE})[\s-]+(?:the\s+)?(?P<a>{_WHEN})", lambda first, last: (None, first - 1)),
        (rf"(?:{_TO_INCLUSIVE})[\s-]+(?:the\s+)?(?P<a>{_WHEN})", lambda first, last: (None, last)),
        (rf"{_LEAD}(?:the\s+)?(?P<a>{_WHEN})\s*(?:\+|(?:{_OPEN_END}))", lambda first, last: (first, None)),
        (rf"{_LEAD}(?:the\s+)?(?P<a>{_WHEN})\s+(?:{_OPEN_START})", lambda first, last: (None, last)),
    )
    for pattern, bounds in rules:
        for match in text.finditer(_compile(pattern)):
            if not _plausible(match, latest):
                continue
            year_from, year_to = bounds(*span_of(match["a"]))
            draft.year_from = year_from if year_from is not None else draft.year_from
            draft.year_to = year_to if year_to is not None else draft.year_to
            text.take(match.start(), match.end())


def _take_exact(text: Text, draft: Draft, latest: int) -> None:
    pattern = _compile(rf"{_LEAD}(?:the\s+)?(?P<a>{_WHEN})")
    for match in text.finditer(pattern):
        if _POSSESSIVE.search(text.low[: match.start("a")]) and not re.fullmatch(_YEAR, match["a"]):
            continue  # "a man in his 30s" is an age, not a decade
        if not _plausible(match, latest):
            continue
        first, last = span_of(match["a"])
        if first == last:
            draft.year = first
        else:
            draft.year_from, draft.year_to = first, last
        text.take(match.start(), match.end())


def _take_bare_seasons(text: Text, draft: Draft) -> None:
    """A season without a year counts next to "season"/a media noun, or after in/from/during."""
    media = alternation(("season", "cour", "lineup", "line up", "releases", "premieres", *MEDIA_NOUNS))
    patterns = (
        rf"(?:(?:the|this)\s+)?{_SEASON}(?:\s+(?:season|cour))?(?=\s+{media}(?!\w)|\s+(?:season|cour)$)",
        rf"{_SEASON}\s+(?:season|cour)",
        rf"(?:in|from|during)\s+(?:the\s+)?{_SEASON}",
    )
    for pattern in patterns:
        for match in text.finditer(_compile(pattern)):
            draft.season = _SEASONS[match["season"]]
            text.take(match.start(), match.end())
