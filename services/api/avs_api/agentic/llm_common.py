"""What every LLM planner shares: the prompt, and strict parsing of the model's answer.

The prompt is the JSON schema of :class:`SearchPlan` (as the model may fill it in),
instructions, the catalogue's genres, and a few worked examples given as earlier
turns of the conversation. The answer must be one JSON object that validates against
``SearchPlan`` with no type coercion; genres must be the catalogue's. Anything else
is an :class:`InvalidPlanAnswer`, and the fallback planner takes over.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from avs_api.agentic.plan import SearchPlan
from avs_api.agentic.planner import InvalidPlanAnswer
from avs_api.agentic.vocabulary import Vocabulary
from avs_api.search.params import SearchFilters, Sort

#: Longer answers are not plans (the schema's largest sensible plan is far smaller).
MAX_ANSWER_CHARS = 8000
MAX_OUTPUT_TOKENS = 512
_THINK = re.compile(r"<think>.*?</think>", re.S)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.S)
_HIDDEN_FILTERS = ("include_orphaned",)


def plan_schema() -> dict[str, Any]:
    """The JSON schema of SearchPlan by field name, without what a planner may not set."""
    schema = SearchPlan.model_json_schema(by_alias=False)
    filters = schema.get("$defs", {}).get("SearchFilters", {})
    for name in _HIDDEN_FILTERS:
        filters.get("properties", {}).pop(name, None)
    return schema


_INSTRUCTIONS = """\
You are the query planner of an anime search engine. Turn the user's request into a \
search plan: ONE JSON object valid against this JSON schema.

{schema}

Rules:
- Answer with the JSON object only: no prose, no markdown, no code fences.
- Put in "filters" only what the user asked for; leave everything else out.
- genres_all / genres_any / genres_exclude use only these genres, spelled exactly: {genres}.
- Themes that are not in that list (mecha, isekai, cyberpunk, magical girls, time travel, \
vampires, ...) are tags, in lower case: tags_all / tags_any / tags_exclude.
- "not X", "no X", "without X", "excluding X" go to the *_exclude lists.
- One year is "year". A decade is a range: "90s" is year_from 1990 and year_to 1999. \
"since 2010" is year_from 2010; "before 2000" is year_to 1999.
- type is a list of TV, MOVIE, OVA, ONA, SPECIAL; status a list of FINISHED, ONGOING, UPCOMING; \
season one of WINTER, SPRING, SUMMER, FALL.
- "short" is episodes_max 13; "long-running" is episodes_min 50.
- "like <title>" or "similar to <title>" sets similar_to to that title exactly as written.
- sort: "best" or "top rated" is score; "popular" is popularity; "newest" or "latest" is year; \
otherwise null. order stays null unless the user asks for the opposite direction (e.g. "oldest").
- query: the words that describe what the anime should be about, with the words used for \
filters, sort and similar_to removed; null if nothing is left. A title or a plot description \
stays as written.
/no_think"""

#: (user query, plan) pairs shown to the model as earlier turns.
EXAMPLES: tuple[tuple[str, SearchPlan], ...] = (
    (
        "short mecha anime from the 90s",
        SearchPlan(filters=SearchFilters(tags_all=["mecha"], year_from=1990, year_to=1999, episodes_max=13)),
    ),
    (
        "top rated romance movies without ecchi",
        SearchPlan(
            filters=SearchFilters(genres_all=["Romance"], genres_exclude=["Ecchi"], type=["MOVIE"]),
            sort=Sort.SCORE,
        ),
    ),
    (
        "something like Cowboy Bebop but newer, after 2010",
        SearchPlan(similar_to="Cowboy Bebop", filters=SearchFilters(year_from=2011)),
    ),
    (
        "ongoing anime about a girl who can see ghosts and helps them move on",
        SearchPlan(
            query="a girl who can see ghosts and helps them move on",
            filters=SearchFilters(status=["ONGOING"]),
        ),
    ),
    ("Shingeki no Kyojin", SearchPlan(query="Shingeki no Kyojin")),
)


@dataclass(frozen=True)
class Prompt:
    """A chat prompt: a system text and alternating user/assistant turns ending with the user's."""

    system: str
    turns: tuple[tuple[str, str], ...]


def example_answer(plan: SearchPlan) -> str:
    """A plan as the model should write it: every top-level key, filters without unset ones."""
    return json.dumps(plan.summary(), ensure_ascii=False, separators=(",", ":"))


def build_prompt(q: str, vocabulary: Vocabulary) -> Prompt:
    system = _INSTRUCTIONS.format(
        schema=json.dumps(plan_schema(), separators=(",", ":")),
        genres=", ".join(vocabulary.genres),
    )
    turns: list[tuple[str, str]] = []
    for query, plan in EXAMPLES:
        turns.extend((("user", query), ("assistant", example_answer(plan))))
    turns.append(("user", q))
    return Prompt(system=system, turns=tuple(turns))


def parse_plan(answer: str, vocabulary: Vocabulary) -> SearchPlan:
    """The plan in a model's answer, or :class:`InvalidPlanAnswer` saying what is wrong with it.

    Tolerated: a ``<think>`` block (Qwen3's reasoning) and one enclosing code fence.
    Everything else must be exactly one JSON object that validates strictly.
    """
    if len(answer) > MAX_ANSWER_CHARS:
        raise InvalidPlanAnswer(f"the answer is {len(answer)} characters long; a plan is never that long")
    text = _THINK.sub("", answer).strip()
    fenced = _FENCE.fullmatch(text)
    if fenced:
        text = fenced.group(1)
    if not text:
        raise InvalidPlanAnswer("the answer is empty")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise InvalidPlanAnswer(f"the answer is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidPlanAnswer(f"the answer is JSON but not an object (a {type(data).__name__})")
    try:
        plan = SearchPlan.model_validate_json(text, strict=True)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'plan'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise InvalidPlanAnswer(f"the plan does not validate: {problems}") from exc
    return _with_catalogue_genres(plan, vocabulary)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _with_catalogue_genres(plan: SearchPlan, vocabulary: Vocabulary) -> SearchPlan:
    """Genres respelled as the catalogue does; a genre it does not have makes the plan invalid."""
    changes: dict[str, list[str]] = {}
    unknown: list[str] = []
    for name in ("genres_all", "genres_any", "genres_exclude"):
        spelled = []
        for genre in getattr(plan.filters, name):
            canonical = vocabulary.canonical_genre(genre)
            if canonical is None:
                unknown.append(genre)
            spelled.append(canonical or genre)
        changes[name] = spelled
    if unknown:
        raise InvalidPlanAnswer(
            f"unknown genres {unknown}; the catalogue's genres are {', '.join(vocabulary.genres)}"
        )
    return plan.model_copy(update={"filters": plan.filters.model_copy(update=changes)})
