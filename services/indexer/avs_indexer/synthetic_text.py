"""Builders of the text-heavy parts of synthetic entries: titles, names, prose, characters.

Used by :mod:`avs_indexer.synthetic_core` and :mod:`avs_indexer.synthetic_entries`;
the pools they draw from are in :mod:`avs_indexer.synthetic_words`. Every builder
takes a :class:`FastRandom` and is a pure function of its state, so output is
deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple, TypeVar

from avs_indexer.synthetic_words import (
    BACKGROUND_LINES,
    BODY,
    CHARACTER_LINES,
    CLOSERS,
    COLORS,
    FAMILY_NAMES,
    GIVEN_BY_GENDER,
    GIVEN_NAMES,
    INTROS,
    LONG_TITLES,
    ORGS,
    PLACES,
    SLOT_WORDS,
    STAFF_ROLES,
    SUFFIXES,
    SYLLABLES,
    WORDS,
)

# Read through this module by older callers (and the tests' distribution checks).
from avs_indexer.synthetic_words import GENRES as GENRES
from avs_indexer.synthetic_words import TAGS as TAGS

T = TypeVar("T")


class FastRandom(random.Random):
    """``random.Random`` whose ``choice``/``randint``/``sample`` are built on ``random()``.

    Deterministic for a seed (the algorithms here are ours, so they cannot change
    under us) and about three times faster than the base class's exact integer
    sampling, which dominates generation time otherwise.
    """

    def choice(self, seq: Sequence[T]) -> T:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def sample(self, population: Sequence[T], k: int, *, counts: object = None) -> list[T]:
        n = len(population)
        if not 0 <= k <= n:
            raise ValueError("sample larger than population or negative")
        if 3 * k > n:  # partial Fisher-Yates
            pool = list(population)
            for i in range(k):
                j = i + int(self.random() * (n - i))
                pool[i], pool[j] = pool[j], pool[i]
            return pool[:k]
        picked: dict[int, None] = {}
        while len(picked) < k:
            picked[int(self.random() * n)] = None
        return [population[i] for i in picked]


class Title(NamedTuple):
    """One title in three scripts."""

    romaji: str
    japanese: str
    english: str


class Name(NamedTuple):
    """A person: family and given name in romaji, the kanji name, gender."""

    family: str
    given: str
    native: str
    gender: str


class _Slots(dict[str, str]):
    """``format_map`` mapping: the fixed slots, else a fresh pool word on each use."""

    def __init__(self, rng: random.Random, fixed: dict[str, str]) -> None:
        super().__init__(fixed)
        self._rng = rng

    def __missing__(self, key: str) -> str:
        return self._rng.choice(SLOT_WORDS[key])


def proper_noun(rng: random.Random) -> tuple[str, str]:
    """An invented name of 2-4 kana: (romaji, katakana)."""
    parts = [rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))]
    roma, kana = "".join(p[0] for p in parts), "".join(p[2] for p in parts)
    if rng.random() < 0.2:
        roma, kana = roma + "n", kana + "ン"
    return roma.capitalize(), kana


def make_title(rng: random.Random, kind: str) -> Title:
    """A title in romaji, Japanese and English for an anime of type ``kind``."""
    a, b = rng.sample(WORDS, 2)
    roll = rng.random()
    if roll < 0.35:
        title = Title(f"{a[0]} no {b[0]}", f"{a[1]}の{b[1]}", f"{b[2]} of the {a[2]}")
    elif roll < 0.55:
        roma, kana = proper_noun(rng)
        title = Title(f"{roma} {a[0]}", f"{kana}{a[1]}", f"{a[2]} {roma}")
    elif roll < 0.7:
        title = Title(f"{a[0]} {b[0]}", f"{a[1]}{b[1]}", f"{a[2]} {b[2]}")
    elif roll < 0.82:
        title = Title(*(part.format(a=a[n], b=b[n]) for n, part in enumerate(rng.choice(LONG_TITLES))))
    else:
        roma, kana = proper_noun(rng)
        title = Title(f"{roma}: {a[0]} no {b[0]}", f"{kana} {a[1]}の{b[1]}", f"{roma}: {b[2]} of the {a[2]}")
    if kind == "MOVIE" and rng.random() < 0.5:
        return Title(f"{title.romaji} Movie", f"劇場版 {title.japanese}", f"{title.english}: The Movie")
    if rng.random() < 0.12:
        suffix = rng.choice(SUFFIXES)
        return Title(*(f"{part} {suffix[n]}" for n, part in enumerate(title)))
    return title


def macronize(romaji: str) -> str:
    """Hepburn with macrons, a common synonym spelling (``Maou`` -> ``Maō``)."""
    return romaji.replace("ou", "ō").replace("uu", "ū").replace("Ou", "Ō")


def make_name(rng: random.Random, gender: str | None = None) -> Name:
    """A Japanese person name with its kanji form (of ``gender`` when given)."""
    family = FAMILY_NAMES[int(rng.random() * len(FAMILY_NAMES))]
    pool = GIVEN_BY_GENDER.get(gender, GIVEN_NAMES) if gender else GIVEN_NAMES
    given = pool[int(rng.random() * len(pool))]
    return Name(family[0], given[0], family[1] + given[1], given[2])


def entry_slots(rng: random.Random, cast: Sequence[Name]) -> dict[str, str]:
    """The fixed prose slots of one entry: hero, friend, rival, a place, an organisation."""
    hero, friend, rival = cast[:3]
    return {
        "hero": f"{hero.given} {hero.family}",
        "given": hero.given,
        "friend": f"{friend.given} {friend.family}",
        "rival": f"{rival.given} {rival.family}",
        "place": rng.choice(PLACES),
        "org": rng.choice(ORGS),
        "year": str(rng.randint(1990, 2025)),
    }


def make_synopsis(rng: random.Random, fixed: dict[str, str], low: int = 40, high: int = 250) -> str:
    """Plausible prose of ``low``-``high`` words: an intro, body sentences, maybe a closer."""
    target = int(rng.triangular(low, high, low + (high - low) * 0.3))
    slots = _Slots(rng, fixed)
    sentences = [rng.choice(INTROS).format_map(slots)]
    words = sentences[0].count(" ") + 1
    for template in rng.sample(BODY, len(BODY)) * 4:
        sentence = template.format_map(slots)
        count = sentence.count(" ") + 1
        if words + count > high:
            if words >= low:
                break
            continue
        if rng.random() < 0.15:
            sentences.append("\n\n")
        sentences.append(sentence)
        words += count
        if words >= target:
            break
    closer = rng.choice(CLOSERS).format_map(slots)
    if words + closer.count(" ") + 1 <= high and rng.random() < 0.4:
        sentences.append(closer)
    return " ".join(sentences).replace(" \n\n ", "\n\n")


def _sentences(rng: random.Random, pool: list[str], fixed: dict[str, str], low: int, high: int) -> str:
    slots = _Slots(rng, fixed)
    return " ".join(s.format_map(slots) for s in rng.sample(pool, rng.randint(low, high)))


def make_background(rng: random.Random, fixed: dict[str, str]) -> str:
    """A short production note (two to four sentences)."""
    return _sentences(rng, BACKGROUND_LINES, fixed, 2, 4)


def make_episode_title(rng: random.Random) -> str:
    """An episode (or song) title such as ``The Quiet Letter``."""
    word = rng.choice(WORDS)[2]
    roll = rng.random()
    if roll < 0.4:
        return f"The {rng.choice(SLOT_WORDS['adj']).capitalize()} {word}"
    if roll < 0.7:
        return f"{word} and {rng.choice(SLOT_WORDS['noun']).title()}"
    return f"Before the {word} {rng.choice(('Sleeps', 'Falls', 'Waits', 'Begins', 'Ends'))}"


def make_characters(
    rng: random.Random, count: int, cast: Sequence[Name], fixed: dict[str, str], first_id: int, cdn: str
) -> list[dict[str, Any]]:
    """``count`` characters (ids from ``first_id``); the first ones are ``cast``."""
    characters: list[dict[str, Any]] = []
    r = rng.random
    mains = rng.randint(1, 3)
    for k in range(count):
        person = cast[k] if k < len(cast) else make_name(rng)
        cid = first_id + k
        character: dict[str, Any] = {"name": f"{person.family}, {person.given}"}
        character["role"] = "Main" if k < mains else "Supporting"
        if r() < 0.8:
            character["name_native"] = person.native
            character["name_variations"] = [person.native]
        if r() < 0.1:
            character["nicknames"] = [person.given[:3] + ("-chan" if person.gender == "Female" else "-kun")]
        character["character_ids"] = {"mal": cid}
        if r() < 0.8:
            character["images"] = [f"{cdn}/images/characters/{cid}.jpg"]
        if r() < 0.45:
            character["gender"] = person.gender
        if r() < 0.1:
            character["age"] = rng.choice((str(rng.randint(10, 40)), rng.randint(10, 40), "Unknown"))
        if r() < 0.1:
            character["hair_color"], character["eye_color"] = rng.choice(COLORS), rng.choice(COLORS)
        if r() < 0.25:
            character["description"] = _sentences(
                rng, CHARACTER_LINES, {**fixed, "given": person.given}, 1, 3
            )
        if r() < 0.3:
            character["favorites"] = int(rng.paretovariate(1.2)) - 1
        page = r() < 0.3
        character["character_pages"] = {"mal": f"https://myanimelist.net/character/{cid}"} if page else {}
        if r() < 0.85:
            actor = make_name(rng, person.gender)
            character["voice_actors"] = [{"name": f"{actor.family}, {actor.given}", "language": "Japanese"}]
        characters.append(character)
    return characters


def make_staff(rng: random.Random, first_id: int) -> dict[str, list[dict[str, Any]]]:
    """``production_staff``: one to five role groups of one or two people."""
    staff: dict[str, list[dict[str, Any]]] = {}
    for k, (group, role, occupation) in enumerate(STAFF_ROLES[: rng.randint(1, len(STAFF_ROLES))]):
        members = []
        for m in range(rng.choice((1, 1, 1, 2))):
            person = make_name(rng)
            members.append(
                {
                    "staff_ids": {"anilist": first_id + 2 * k + m},
                    "name": f"{person.family} {person.given}",
                    "native_name": person.native,
                    "role": role,
                    "primary_occupations": [occupation],
                }
            )
        staff[group] = members
    return staff


def make_episode_details(
    rng: random.Random, count: int, first_day: int | None, duration: int, page: str, fixed: dict[str, str]
) -> list[dict[str, Any]]:
    """``count`` episodes airing weekly from ``first_day`` (a date ordinal) when known."""
    episodes: list[dict[str, Any]] = []
    titled = rng.random() < 0.6
    for number in range(1, count + 1):
        episode: dict[str, Any] = {"episode_number": number}
        if first_day is not None:
            episode["aired"] = f"{date.fromordinal(first_day + 7 * (number - 1)).isoformat()}T15:00:00Z"
        episode["duration"] = duration
        episode["filler"] = False
        episode["recap"] = rng.random() < 0.02
        episode["season_number"] = 1
        episode["title"] = make_episode_title(rng) if titled else f"Episode {number}"
        if rng.random() < 0.15:
            episode["synopsis"] = _sentences(rng, BODY, fixed, 1, 2)
        if rng.random() < 0.2:
            episode["score"] = round(rng.uniform(3.5, 9.5), 2)
        episode["thumbnails"] = []
        episode["episode_pages"] = {"mal": f"{page}/episode/{number}"}
        episode["streaming"] = {}
        episodes.append(episode)
    return episodes
