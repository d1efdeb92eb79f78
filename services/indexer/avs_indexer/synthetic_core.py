"""The core of a synthetic anime: what the offline database also knows about it.

Entry ``i`` of seed ``s`` draws from its own generator (:func:`entry_rng`); its
:class:`Core` is always the first draws, so the offline records
(:mod:`avs_indexer.synthetic_offline`) and the enriched entries
(:mod:`avs_indexer.synthetic_entries`) describe the same anime. Provider ids and
image numbers are permutations of the index (:func:`perm`), unique below
``MAX_ENTRIES``.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from functools import lru_cache
from typing import Any, NamedTuple

from avs_indexer import synthetic_text as text
from avs_indexer import synthetic_words as words
from avs_indexer.synthetic_text import FastRandom

CDN = "https://cdn.example-anime.test"
MAX_ENTRIES = 1 << 20
"""Provider ids and image numbers are permutations of the index modulo this, so unique below it."""
_ID_NAMESPACE = uuid.UUID("6f0e3c1a-5b7d-4e2f-9a8c-1d2e3f405162")
POP_MU, POP_SIGMA = 7.6, 2.0  # log(members) ~ N(mu, sigma) before type/status shifts
_POP_SHIFT = {"TV": 0.7, "MOVIE": 0.3, "OVA": -0.3, "ONA": -0.4, "SPECIAL": -0.8, "MUSIC": -1.5, "PV": -2.0}
_TYPES = ("TV", "MOVIE", "OVA", "ONA", "SPECIAL", "MUSIC", "PV"), (55, 66, 76, 86, 95, 99, 100)
_STATUSES = ("FINISHED", "ONGOING", "UPCOMING", "UNKNOWN"), (85, 91, 98, 100)
_TV_EPISODES = (12, 13, 24, 25, 26, 10, 11, 50, 51, 52), (34, 50, 60, 65, 75, 79, 82, 84, 86, 89)
SEASONS = ("WINTER", "SPRING", "SUMMER", "FALL")
# Provider | chance to list it | URL prefix (MAL's presence is _has_mal, so other entries can link to it).
_PROVIDERS = [
    (p, float(c), u)
    for p, c, u in words.parse_rows("""
    anidb|0.6|https://anidb.net/anime/; anilist|0.8|https://anilist.co/anime/;
    animecountdown|0.45|https://animecountdown.com/; animeplanet|0.7|https://anime-planet.com/anime/;
    animenewsnetwork|0.3|https://animenewsnetwork.com/encyclopedia/anime.php?id=;
    anisearch|0.5|https://anisearch.com/anime/; kitsu|0.75|https://kitsu.app/anime/;
    livechart|0.4|https://livechart.me/anime/; mal|0|https://myanimelist.net/anime/;
    notify|0.35|https://notify.moe/anime/; simkl|0.45|https://simkl.com/anime/;
    animeschedule|0.3|https://animeschedule.net/anime/""")
]
PROVIDER_OF_HOST = {prefix.split("/")[2]: name for name, _, prefix in _PROVIDERS}
NON_SLUG = re.compile(r"[^a-z0-9]+")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Core(NamedTuple):
    """What the offline database also knows about an anime, plus latent values."""

    position: int  # the entry index
    type: str
    status: str
    season: str
    year: int | None
    episodes: int
    duration: int
    title: text.Title
    sources: list[str]
    synonyms: list[str]
    tags: list[str]
    genres: list[str]
    studios: list[str]
    producers: list[str]
    related: list[tuple[int, str]]  # (index, MAL URL) of earlier entries
    image_number: int
    popularity: float  # latent z-score behind members, ranks and scores
    provider_scores: dict[str, float]
    score: dict[str, float] | None


def weighted(rng: FastRandom, table: tuple[Any, tuple[int, ...]]) -> Any:
    """One value of ``table`` = ``(values, cumulative weights)``."""
    return rng.choices(table[0], cum_weights=table[1])[0]


@lru_cache(maxsize=64)
def _salts(seed: int) -> dict[str, tuple[int, int]]:
    """Per name ``(odd multiplier, offset)``: ``index -> (m * index + o) % MAX_ENTRIES`` is a bijection."""
    salts = {}
    for name in [p[0] for p in _PROVIDERS] + ["image", "character", "has_mal"]:
        value = int.from_bytes(hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest(), "big")
        salts[name] = ((value >> 32) | 1, value % MAX_ENTRIES)
    return salts


def perm(seed: int, name: str, index: int) -> int:
    """``index`` permuted by the bijection of ``name`` for ``seed`` (ids, image numbers)."""
    mult, offset = _salts(seed)[name]
    return (mult * index + offset) % MAX_ENTRIES


def _has_mal(seed: int, index: int) -> bool:
    return perm(seed, "has_mal", index) % 100 < 88


def entry_rng(seed: int, index: int) -> FastRandom:
    """The generator of entry ``index`` for ``seed``; its first draws are the :class:`Core`."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=16).digest()
    return FastRandom(int.from_bytes(digest, "big"))


def entry_id(seed: int, index: int) -> str:
    """The ``id`` of entry ``index`` for ``seed``: a UUID5 over both."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"synthetic:{seed}:{index}"))


def b62(value: int, width: int) -> str:
    """``width`` base-62 digits of ``value``, least significant first (slugs, video ids)."""
    chars = []
    for _ in range(width):
        value, rest = divmod(value, 62)
        chars.append(_B62[rest])
    return "".join(chars)


def check_count(count: int) -> None:
    """ValueError unless ``0 <= count <= MAX_ENTRIES``."""
    if not 0 <= count <= MAX_ENTRIES:
        raise ValueError(f"count must be between 0 and {MAX_ENTRIES}, got {count}")


def _year_season(rng: FastRandom, status: str) -> tuple[int | None, str]:
    year: int | None
    if status == "UPCOMING":
        year = rng.choice((2025, 2026, 2026, 2027)) if rng.random() < 0.8 else None
    elif status == "ONGOING":
        year = 2025 - int(rng.expovariate(0.5)) if rng.random() < 0.9 else rng.randint(1990, 2020)
    elif status == "UNKNOWN" and rng.random() < 0.5:
        year = None
    else:
        year = 2025 - int(rng.expovariate(1 / 13))  # skewed recent, median about 2016
    if year is None:
        return None, "UNDEFINED"
    return max(year, 1960), "UNDEFINED" if rng.random() < 0.06 else rng.choice(SEASONS)


def _episodes(rng: FastRandom, kind: str, status: str) -> tuple[int, int]:
    """(episodes, seconds per episode)."""
    if kind in ("MOVIE", "MUSIC", "PV"):
        episodes = 1
        duration = {"MOVIE": rng.randint(40, 130) * 60, "MUSIC": rng.randint(120, 330)}.get(kind, 90)
    elif kind == "TV":
        roll = rng.random()
        if roll < 0.004:
            episodes = rng.randint(300, 1200)  # long runners: about one TV series in 1,100 passes 1,000
        elif roll < 0.08:
            episodes = rng.randint(1, 200)
        else:
            episodes = weighted(rng, _TV_EPISODES)
        duration = 1440 if rng.random() < 0.85 else rng.choice((180, 300, 420, 600, 1500))
    else:
        episodes = rng.choice((1, 1, 1, 2, 3, 4, 6, 8, 12, 13)) if kind != "SPECIAL" else rng.randint(1, 6)
        duration = rng.choice((120, 300, 600, 900, 1440, 1500, 1800, 2700))
    if status == "UPCOMING" and episodes > 1 and rng.random() < 0.6:
        episodes = 0  # not announced yet
    return episodes, duration


def _score(rng: FastRandom, z: float) -> tuple[dict[str, float], dict[str, float]]:
    """Provider scores around a mean tied to popularity, and their aggregate."""
    mean = min(max(6.4 + 0.35 * z + rng.gauss(0.0, 0.55), 1.6), 9.3)
    scores = {
        name: round(min(max(mean + rng.gauss(0.0, 0.35), 1.0), 10.0), digits)
        for name, digits in (("mal", 2), ("anilist", 1), ("kitsu", 3), ("anidb", 2), ("animeplanet", 3))
    }
    values = sorted(scores.values())
    arithmetic = sum(values) / len(values)
    a, g = arithmetic, math.prod(values) ** (1 / len(values))
    for _ in range(30):  # arithmetic-geometric mean
        if abs(a - g) < 1e-12:
            break
        a, g = (a + g) / 2, math.sqrt(a * g)
    return scores, {"arithmetic_geometric_mean": a, "arithmetic_mean": arithmetic, "median": values[2]}


def build_core(seed: int, index: int, rng: FastRandom) -> Core:
    """The core of entry ``index``: always the first draws of its ``rng``."""
    kind, status = weighted(rng, _TYPES), weighted(rng, _STATUSES)
    year, season = _year_season(rng, status)
    episodes, duration = _episodes(rng, kind, status)
    title = text.make_title(rng, kind)
    slug = NON_SLUG.sub("-", title.romaji.lower()).strip("-")
    sources = []
    for name, chance, prefix in _PROVIDERS:
        if not (_has_mal(seed, index) if name == "mal" else rng.random() < chance):
            continue
        number = perm(seed, name, index) + 1
        if name in ("animeplanet", "animeschedule"):
            sources.append(f"{prefix}{slug}-{b62(number, 4).lower()}")
        elif name == "notify":
            sources.append(prefix + b62(number * 1_000_000_007, 9))
        else:
            sources.append(f"{prefix}{number}")
    if not sources:  # every record of the offline database has at least one source
        sources.append(f"https://anilist.co/anime/{perm(seed, 'anilist', index) + 1}")
    synonyms = [text.macronize(title.romaji), title.english, title.japanese]
    if rng.random() < 0.3:
        synonyms.append("".join(w[0] for w in title.romaji.split() if w[0].isupper()))
    synonyms = [s for s in dict.fromkeys(synonyms) if s and s != title.romaji and rng.random() < 0.7]
    tags = sorted(rng.sample(words.TAGS, rng.randint(3, 15)))
    genres = rng.sample(words.GENRES, rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5)))
    studios = rng.sample(words.STUDIOS, rng.choice((0, 1, 1, 1, 1, 2)))
    producers = rng.sample(words.PRODUCERS, rng.choice((0, 0, 1, 2, 3, 4, 5)))
    related = []
    if index > 0 and rng.random() < 0.2:
        for j in sorted(rng.sample(range(max(0, index - 30), index), min(index, rng.randint(1, 3)))):
            if _has_mal(seed, j):
                related.append((j, f"https://myanimelist.net/anime/{perm(seed, 'mal', j) + 1}"))
    z = rng.gauss(0.0, 1.0) + _POP_SHIFT[kind] - (1.2 if status == "UPCOMING" else 0.0)
    provider_scores, score = _score(rng, z) if status != "UPCOMING" else ({}, None)
    image_number = perm(seed, "image", index) * 4
    return Core(
        index, kind, status, season, year, episodes, duration, title, sources, synonyms, tags, genres,
        studios, producers, related, image_number, z, provider_scores, score,
    )  # fmt: skip
