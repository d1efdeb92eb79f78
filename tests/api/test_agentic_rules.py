"""The rule planner: many phrasings of each thing it understands, and what it must leave alone.

Each case is a query and the plan it must make, written as the non-empty parts of
``SearchPlan.summary()`` (filters without unset fields). The clock is fixed for the
relative rules ("this year", "this season").
"""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from avs_api.agentic.plan import SearchPlan
from avs_api.agentic.rules import RulePlanner
from avs_api.agentic.rules_tables import MEDIA_NOUNS, STOP_WORDS
from avs_api.agentic.vocabulary import CONCEPTS, Vocabulary, vocabulary_from_index
from avs_api.search.params import MAX_QUERY_CHARS
from avs_shared.adapters.vector.edge import EdgeVectorIndex

TODAY = date(2024, 11, 5)  # a Tuesday in the fall season
QUERIES = Path(__file__).resolve().parents[1] / "fixtures" / "search_quality" / "queries.json"

PLANNER = RulePlanner(today=lambda: TODAY)


def planned(q: str, planner: RulePlanner = PLANNER) -> dict[str, Any]:
    summary = planner.plan_now(q).summary()
    return {k: v for k, v in summary.items() if v not in (None, {})}


def f(**filters: Any) -> dict[str, Any]:
    return {"filters": filters}


def check(cases: list[tuple[str, dict[str, Any]]]) -> Any:
    return pytest.mark.parametrize(("q", "expected"), cases, ids=[q for q, _ in cases])


# ----------------------------------------------------------------------------- time

YEARS = [
    ("anime from 2015", f(year=2015)),
    ("2015 anime", f(year=2015)),
    ("released in 2015", f(year=2015)),
    ("anime from 2010 onwards", f(year_from=2010)),
    ("2010 or later", f(year_from=2010)),
    ("2012+ anime", f(year_from=2012)),
    ("anime since 2010", f(year_from=2010)),
    ("starting in 2012", f(year_from=2012)),
    ("after 2010", f(year_from=2011)),
    ("post-2010 isekai", {**f(tags_all=["isekai"], year_from=2011)}),
    ("before 2000", f(year_to=1999)),
    ("pre-2000 mecha", f(tags_all=["mecha"], year_to=1999)),
    ("until 2005", f(year_to=2005)),
    ("1995 or earlier", f(year_to=1995)),
    ("from 2000 to 2005", f(year_from=2000, year_to=2005)),
    ("2000-2005", f(year_from=2000, year_to=2005)),
    ("between 2000 and 2005", f(year_from=2000, year_to=2005)),
    ("between 2005 and 2000", f(year_from=2000, year_to=2005)),
    ("this year", f(year=2024)),
    ("last year", f(year=2023)),
]

DECADES = [
    ("90s anime", f(year_from=1990, year_to=1999)),
    ("'90s anime", f(year_from=1990, year_to=1999)),
    ("80's anime", f(year_from=1980, year_to=1989)),
    ("1980s", f(year_from=1980, year_to=1989)),
    ("the eighties", f(year_from=1980, year_to=1989)),
    ("the nineties", f(year_from=1990, year_to=1999)),
    ("anime from the 2010s", f(year_from=2010, year_to=2019)),
    ("2000s", f(year_from=2000, year_to=2009)),
    ("the early 2000s", f(year_from=2000, year_to=2003)),
    ("mid-2000s", f(year_from=2004, year_to=2006)),
    ("late 90s horror", f(genres_all=["Horror"], year_from=1997, year_to=1999)),
    ("after the 90s", f(year_from=2000)),
    ("since the 90s", f(year_from=1990)),
    ("before the 2000s", f(year_to=1999)),
    ("between the 80s and 90s", f(year_from=1980, year_to=1999)),
    (
        "ghibli movies from the 80s and 90s",
        f(year_from=1980, year_to=1999, type=["MOVIE"], studios=["Studio Ghibli"]),
    ),
]

SEASONS = [
    ("fall 2019", f(year=2019, season="FALL")),
    ("autumn 2019 anime", f(year=2019, season="FALL")),
    ("2019 fall", f(year=2019, season="FALL")),
    ("winter 2021 season", f(year=2021, season="WINTER")),
    ("the spring of 2018", f(year=2018, season="SPRING")),
    ("summer 2020 romance", f(genres_all=["Romance"], year=2020, season="SUMMER")),
    ("winter anime", f(season="WINTER")),
    ("anime from the spring season", f(season="SPRING")),
    ("summer shows", f(season="SUMMER")),
    ("this season", f(year=2024, season="FALL")),
    ("next season", f(year=2025, season="WINTER")),
    ("last season", f(year=2024, season="SUMMER")),
]


@check(YEARS)
def test_years_and_ranges(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


@check(DECADES)
def test_decades(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


@check(SEASONS)
def test_seasons(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


def test_this_season_follows_the_clock_across_a_new_year() -> None:
    december = RulePlanner(today=lambda: date(2024, 12, 31))
    assert planned("next season", december) == f(year=2025, season="WINTER")
    january = RulePlanner(today=lambda: date(2025, 1, 1))
    assert planned("last season", january) == f(year=2024, season="FALL")


@pytest.mark.parametrize(
    "q",
    [
        "a man in his 30s",
        "a woman in her late 20s",
        "Blade Runner 2049",
        "2030 anime",
        "Summer Wars",
        "mecha not from the 90s",  # a filter cannot leave out a span of years; no year filter, then
        "romance, not from 2015",
    ],
)
def test_numbers_and_words_that_are_not_dates_stay_text(q: str) -> None:
    plan = PLANNER.plan_now(q)
    assert plan.filters.year is None and plan.filters.year_from is None and plan.filters.year_to is None
    assert plan.filters.season is None
    assert plan.query is not None or plan.filters != SearchPlan().filters


# ----------------------------------------------------------------------------- types, status, episodes

TYPES = [
    ("movies", f(type=["MOVIE"])),
    ("a movie", f(type=["MOVIE"])),
    ("anime films", f(type=["MOVIE"])),
    ("OVA", f(type=["OVA"])),
    ("OVAs from the 80s", f(year_from=1980, year_to=1989, type=["OVA"])),
    ("TV series", f(type=["TV"])),
    ("TV shows", f(type=["TV"])),
    ("ONA", f(type=["ONA"])),
    ("web series", f(type=["ONA"])),
    ("specials", f(type=["SPECIAL"])),
    ("movies or OVAs", f(type=["MOVIE", "OVA"])),
    ("no movies", f(type=["TV", "OVA", "ONA", "SPECIAL"])),
    ("not a movie", f(type=["TV", "OVA", "ONA", "SPECIAL"])),
    ("no movies or OVAs", f(type=["TV", "ONA", "SPECIAL"])),
]

STATUSES = [
    ("ongoing", f(status=["ONGOING"])),
    ("currently airing", f(status=["ONGOING"])),
    ("airing now", f(status=["ONGOING"])),
    ("finished", f(status=["FINISHED"])),
    ("completed series", f(status=["FINISHED"])),
    ("upcoming", f(status=["UPCOMING"])),
    ("not yet aired", f(status=["UPCOMING"])),
    ("upcoming or airing", f(status=["UPCOMING", "ONGOING"])),
]

EPISODES = [
    ("short anime", f(episodes_max=13)),
    ("under 13 episodes", f(episodes_max=12)),
    ("less than 12 eps", f(episodes_max=11)),
    ("fewer than twelve episodes", f(episodes_max=11)),
    ("at most 24 episodes", f(episodes_max=24)),
    ("24 episodes or less", f(episodes_max=24)),
    ("more than 50 episodes", f(episodes_min=51)),
    ("over 100 episodes", f(episodes_min=101)),
    ("at least 24 episodes", f(episodes_min=24)),
    ("50+ episodes", f(episodes_min=50)),
    ("12 episodes", f(episodes_min=12, episodes_max=12)),
    ("12-episode anime", f(episodes_min=12, episodes_max=12)),
    ("between 10 and 26 episodes", f(episodes_min=10, episodes_max=26)),
    ("long-running", f(episodes_min=50)),
    ("long running shounen", {"query": "shounen", **f(episodes_min=50)}),
    ("one cour", f(episodes_max=13)),
    ("not too long", f(episodes_max=26)),
]


@check(TYPES)
def test_types(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


@check(STATUSES)
def test_statuses(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


@check(EPISODES)
def test_episode_counts(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


# ----------------------------------------------------------------------------- genres, tags, negations

CONCEPT_CASES = [
    ("rom-com", f(genres_all=["Romance", "Comedy"])),
    ("romcoms", f(genres_all=["Romance", "Comedy"])),
    ("romantic comedy", f(genres_all=["Romance", "Comedy"])),
    ("slice of life", f(genres_all=["Slice of Life"])),
    ("slice-of-life", f(genres_all=["Slice of Life"])),
    ("sci-fi", f(genres_all=["Sci-Fi"])),
    ("science fiction", f(genres_all=["Sci-Fi"])),
    ("sports", f(genres_all=["Sports"])),
    ("award-winning drama", f(genres_all=["Award Winning", "Drama"])),
    ("boys love", f(genres_all=["Boys Love"])),
    ("girls' love", f(genres_all=["Girls Love"])),
    ("thrillers", f(genres_all=["Suspense"])),
    ("mecha", f(tags_all=["mecha"])),
    ("robot anime", f(tags_all=["mecha"])),
    ("giant robots", f(tags_all=["mecha"])),
    ("mecha anime with giant robots", f(tags_all=["mecha"])),
    ("isekai", f(tags_all=["isekai"])),
    ("magical girl", f(tags_all=["magical girls"])),
    ("mahou shoujo", f(tags_all=["magical girls"])),
    ("cyberpunk", f(tags_all=["cyberpunk"])),
    ("time travel", f(tags_all=["time travel"])),
    ("action or comedy", f(genres_any=["Action", "Comedy"])),
    ("action/comedy", f(genres_any=["Action", "Comedy"])),
    ("action and comedy", f(genres_all=["Action", "Comedy"])),
    ("action, comedy", f(genres_all=["Action", "Comedy"])),
    ("horror comedy", f(genres_all=["Horror", "Comedy"])),
    ("funny anime", f(genres_all=["Comedy"])),
    ("scary movies", f(genres_all=["Horror"], type=["MOVIE"])),
    ("something funny", f(genres_all=["Comedy"])),
    ("anime about cooking", f(genres_all=["Gourmet"])),
]

NEGATIONS = [
    ("not romance", f(genres_exclude=["Romance"])),
    ("no horror", f(genres_exclude=["Horror"])),
    ("without mecha", f(tags_exclude=["mecha", "real robot", "super robot"])),
    ("excluding isekai", f(tags_exclude=["isekai"])),
    ("except ecchi", f(genres_exclude=["Ecchi"])),
    ("action but not romance", f(genres_all=["Action"], genres_exclude=["Romance"])),
    ("no romance or ecchi", f(genres_exclude=["Romance", "Ecchi"])),
    ("no romance and no ecchi", f(genres_exclude=["Romance", "Ecchi"])),
    ("non-isekai fantasy", f(genres_all=["Fantasy"], tags_exclude=["isekai"])),
    ("nothing scary", f(genres_exclude=["Horror"])),
    ("no fan service", f(genres_exclude=["Ecchi"])),
    ("anything but harem", f(tags_exclude=["harem"])),
    ("avoid yuri", f(genres_exclude=["Girls Love"])),
    ("not too much romance", f(genres_exclude=["Romance"])),
    ("fantasy without romance", f(genres_all=["Fantasy"], genres_exclude=["Romance"])),
]


@check(CONCEPT_CASES)
def test_genres_and_tags_from_words_and_synonyms(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


@check(NEGATIONS)
def test_negations_exclude(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


@pytest.mark.parametrize(
    "q",
    [
        "an orphan girl and a robot boy descend into a giant pit",
        "a funny thing happened on the way",
        "a scary night in the woods",
        "a teen uses a military implant to become a mercenary",
    ],
)
def test_weak_words_in_a_plot_are_not_filters(q: str) -> None:
    plan = PLANNER.plan_now(q)
    assert plan.filters == SearchPlan().filters
    assert plan.query == q


def test_a_catalogue_with_the_mecha_genre_gets_genre_filters_not_tags() -> None:
    vocabulary = Vocabulary().with_index_facets(genres=["Action", "Mecha"], tags=["magical girl"])
    planner = RulePlanner(vocabulary, today=lambda: TODAY)
    assert planned("mecha anime", planner) == f(genres_all=["Mecha"])
    assert planned("no mecha", planner) == f(genres_exclude=["Mecha"])
    # The tag spelling the catalogue uses wins over the default one.
    assert planned("magical girl", planner) == f(tags_all=["magical girl"])


def test_every_concept_phrase_is_understood_alone() -> None:
    vocabulary = Vocabulary()
    for concept in CONCEPTS:
        resolved = vocabulary.resolve(concept)
        for phrase in concept.phrases:
            plan = PLANNER.plan_now(phrase)
            assert plan.filters.genres_all == list(resolved.genres), phrase
            assert plan.filters.tags_all == list(resolved.tags), phrase
            assert plan.query is None, phrase


# ----------------------------------------------------------------------------- sort, score, nsfw, studios

SORTS = [
    ("best anime", {"sort": "score"}),
    ("top rated", {"sort": "score"}),
    ("top-rated sci-fi", {**f(genres_all=["Sci-Fi"]), "sort": "score"}),
    ("top 10 action", {**f(genres_all=["Action"]), "sort": "score"}),
    ("highest rated movies", {**f(type=["MOVIE"]), "sort": "score"}),
    ("critically acclaimed", {"sort": "score"}),
    ("worst rated", {"sort": "score", "order": "asc"}),
    ("popular", {"sort": "popularity"}),
    ("most popular romance", {**f(genres_all=["Romance"]), "sort": "popularity"}),
    ("famous", {"sort": "popularity"}),
    ("hidden gems", {"sort": "popularity", "order": "asc"}),
    ("underrated", {"sort": "popularity", "order": "asc"}),
    ("newest", {"sort": "year"}),
    ("latest isekai", {**f(tags_all=["isekai"]), "sort": "year"}),
    ("new anime", {"sort": "year"}),
    ("recent anime", {"sort": "year"}),
    ("oldest mecha", {**f(tags_all=["mecha"]), "sort": "year", "order": "asc"}),
    ("alphabetical", {"sort": "title"}),
    ("best and newest", {"sort": "score"}),  # the first hint wins
]

OTHER_FILTERS = [
    ("rated above 8", f(score_min=8.0)),
    ("score 8+", f(score_min=8.0)),
    ("with a rating of at least 7.5", f(score_min=7.5)),
    ("8+ rated", f(score_min=8.0)),
    ("family friendly", f(nsfw=False)),
    ("for kids", f(nsfw=False)),
    ("nsfw", f(nsfw=True)),
    ("no nsfw", f(nsfw=False)),
    ("by Madhouse", f(studios=["Madhouse"])),
    ("Kyoto Animation", f(studios=["Kyoto Animation"])),
    ("KyoAni", f(studios=["Kyoto Animation"])),
    ("studio Trigger", f(studios=["Trigger"])),
    ("from Bones", f(studios=["Bones"])),
    ("Ghibli", f(studios=["Studio Ghibli"])),
    ("Studio Ghibli films", f(type=["MOVIE"], studios=["Studio Ghibli"])),
]


@check(SORTS)
def test_sort_hints(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


@check(OTHER_FILTERS)
def test_score_nsfw_and_studios(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


@pytest.mark.parametrize("q", ["bones", "the sunrise", "a trigger warning", "an orange"])
def test_studio_names_that_are_words_need_studio_or_by(q: str) -> None:
    assert PLANNER.plan_now(q).filters.studios == []


# ----------------------------------------------------------------------------- like <title>

SIMILAR = [
    ("like Naruto", {"similar_to": "Naruto"}),
    ("anime like Naruto", {"similar_to": "Naruto"}),
    ("something like Death Note", {"similar_to": "Death Note"}),
    ("something similar to Haikyu!!", {"similar_to": "Haikyu!!"}),
    ("if you liked Steins;Gate", {"similar_to": "Steins;Gate"}),
    ("for fans of Cowboy Bebop", {"similar_to": "Cowboy Bebop"}),
    ("in the vein of Mushishi", {"similar_to": "Mushishi"}),
    ("shows like K-On!", {"similar_to": "K-On!"}),
    ('like "Your Name"', {"similar_to": "Your Name"}),
    ("like Made in Abyss", {"similar_to": "Made in Abyss"}),
    ("like Ghost in the Shell", {"similar_to": "Ghost in the Shell"}),
    ("films like Spirited Away", {**f(type=["MOVIE"]), "similar_to": "Spirited Away"}),
    ("romantic dramas like Clannad", {**f(genres_all=["Romance", "Drama"]), "similar_to": "Clannad"}),
    ("shounen battle anime like Naruto", {"query": "shounen battle", "similar_to": "Naruto"}),
    ("like Cowboy Bebop but in the 2010s", {**f(year_from=2010, year_to=2019), "similar_to": "Cowboy Bebop"}),
    ("like Cowboy Bebop from the 90s", {**f(year_from=1990, year_to=1999), "similar_to": "Cowboy Bebop"}),
    (
        "anime like Made in Abyss without romance",
        {**f(genres_exclude=["Romance"]), "similar_to": "Made in Abyss"},
    ),
    (
        "anime similar to Attack on Titan, but finished",
        {**f(status=["FINISHED"]), "similar_to": "Attack on Titan"},
    ),
    ("something like Death Note but shorter", {"query": "shorter", "similar_to": "Death Note"}),
]


@check(SIMILAR)
def test_like_a_title(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


@pytest.mark.parametrize("q", ["March Comes In Like a Lion", "I would like a good mystery"])
def test_like_as_a_verb_or_inside_a_title_is_not_a_comparison(q: str) -> None:
    assert PLANNER.plan_now(q).similar_to is None


# ----------------------------------------------------------------------------- whole sentences, query text

SENTENCES = [
    (
        "I want a dark fantasy anime with demons from the 2010s that isn't too long",
        {"query": "dark demons", **f(genres_all=["Fantasy"], year_from=2010, year_to=2019, episodes_max=26)},
    ),
    ("recommend me some good romance anime please", f(genres_all=["Romance"])),
    (
        "what are the best mecha anime of the 80s",
        {**f(tags_all=["mecha"], year_from=1980, year_to=1989), "sort": "score"},
    ),
    (
        "short sci-fi OVAs from the 90s without mecha",
        f(
            genres_all=["Sci-Fi"],
            tags_exclude=["mecha", "real robot", "super robot"],
            year_from=1990,
            year_to=1999,
            type=["OVA"],
            episodes_max=13,
        ),
    ),
    (
        "top rated finished sports anime between 2010 and 2020",
        {**f(genres_all=["Sports"], year_from=2010, year_to=2020, status=["FINISHED"]), "sort": "score"},
    ),
    (
        "popular isekai not harem since 2015",
        {**f(tags_all=["isekai"], tags_exclude=["harem"], year_from=2015), "sort": "popularity"},
    ),
    (
        "ongoing rom-com with more than 24 episodes",
        f(genres_all=["Romance", "Comedy"], status=["ONGOING"], episodes_min=25),
    ),
    (
        "family friendly adventure movies from the 2000s",
        f(genres_all=["Adventure"], year_from=2000, year_to=2009, type=["MOVIE"], nsfw=False),
    ),
    (
        "newest action or comedy TV series",
        {**f(genres_any=["Action", "Comedy"], type=["TV"]), "sort": "year"},
    ),
    ("classic anime from the 1980s", {"query": "classic", **f(year_from=1980, year_to=1989)}),
    ("psychological thriller", {"query": "psychological", **f(genres_all=["Suspense"])}),
]


@check(SENTENCES)
def test_whole_sentences(q: str, expected: dict[str, Any]) -> None:
    assert planned(q) == expected


def test_the_query_text_keeps_the_original_case_and_drops_stop_words() -> None:
    plan = PLANNER.plan_now("Please find me some Dark Fantasy anime about the Knights of Ravens from 2020")
    assert plan.query == "Dark Knights Ravens"
    assert plan.filters.genres_all == ["Fantasy"] and plan.filters.year == 2020


def _fixture_queries(*kinds: str) -> list[str]:
    return [q["query"] for q in json.loads(QUERIES.read_text()) if q["kind"] in kinds]


@pytest.mark.parametrize("q", _fixture_queries("title_english", "title_romaji", "title_japanese", "synonym"))
def test_titles_are_searched_verbatim(q: str) -> None:
    assert planned(q) == {"query": " ".join(q.split())}


# Plot descriptions that name a genre word outright keep it as a filter; that is the rule.
PLOT_FILTERS = {
    "a man trapped in a fantasy world returns to an earlier point in time each time he dies": f(
        genres_all=["Fantasy"]
    )["filters"],
}


@pytest.mark.parametrize("q", _fixture_queries("plot"))
def test_plot_descriptions_stay_text(q: str) -> None:
    plan = PLANNER.plan_now(q)
    assert plan.similar_to is None and plan.sort is None
    assert plan.filters.model_dump(mode="json", exclude_defaults=True) == PLOT_FILTERS.get(q, {})
    assert plan.query


# ----------------------------------------------------------------------------- robustness


def test_any_mix_of_known_phrases_gives_a_valid_plan() -> None:
    words = [
        *(p for c in CONCEPTS for p in (*c.phrases, *c.weak)),
        *MEDIA_NOUNS,
        *sorted(STOP_WORDS)[:40],
        *"not no without like similar to between and or from since before after the 90s 2015 1985".split(),
        *"fall winter 2019 under over more than 12 13 50 episodes best popular newest movies ova".split(),
        *"ongoing finished upcoming studio ghibli by madhouse rated above 8 nsfw 2049 - , ; ! ?".split(),
    ]
    rng = random.Random(20241105)
    for _ in range(2000):
        q = " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))[:MAX_QUERY_CHARS]
        plan = PLANNER.plan_now(q)
        assert isinstance(plan, SearchPlan)
        SearchPlan.model_validate(plan.model_dump())  # round-trips through validation


async def test_the_async_interface_plans_the_same() -> None:
    assert await PLANNER.plan("90s mecha") == PLANNER.plan_now("90s mecha")


async def test_vocabulary_from_an_unusable_index_is_the_fixed_list(tmp_path: Path) -> None:
    index = EdgeVectorIndex(tmp_path / "never-created")  # no ensure_collection: facets fail
    try:
        assert await vocabulary_from_index(index) == Vocabulary()
    finally:
        await index.close()
