"""Synthetic, schema-valid anime data for scale tests and benchmarks.

Entry ``i`` of seed ``s`` depends only on ``(s, i)``: generation streams, a shorter
run is a prefix of a longer one, and ``generate_offline_records(n, seed=s)`` yields
the raw offline-database records of the same anime as ``generate_entries(n, seed=s)``
(exactly ``offline_record_for(entry, map_types=True)`` of each entry).

Enriched entries are JSON dicts that ``AnimeEntry.from_json_dict`` accepts and that
round-trip exactly through it; offline records do the same with ``OfflineRecord``.
Within one seed, ids, source URLs and image URLs are unique (up to ``MAX_ENTRIES``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

from avs_indexer import synthetic_text as text
from avs_indexer.synthetic_text import FastRandom

__all__ = [
    "CDN",
    "MAX_ENTRIES",
    "NO_PIC",
    "WrittenFile",
    "entry_id",
    "generate_entries",
    "generate_offline_records",
    "offline_record_for",
    "write_enriched_file",
    "write_offline_file",
]

CDN = "https://cdn.example-anime.test"
MAX_ENTRIES = 1 << 20
"""Provider ids and image numbers are permutations of the index modulo this, so unique below it."""
NO_PIC = "https://raw.githubusercontent.com/manami-project/anime-offline-database/master/pics/no_pic.png"
NO_PIC_THUMBNAIL = NO_PIC.replace("no_pic.png", "no_pic_thumbnail.png")
DEFAULT_LAST_UPDATE = "2025-08-01"
OFFLINE_REPOSITORY = "https://github.com/manami-project/anime-offline-database"
OFFLINE_LICENSE = {
    "name": "Open Data Commons Open Database License (ODbL) v1.0 + Database Contents License (DbCL) v1.0",
    "url": f"{OFFLINE_REPOSITORY}/blob/master/LICENSE",
}
_SCHEMA_URL = "https://raw.githubusercontent.com/manami-project/anime-offline-database/master/schemas/"
_ID_NAMESPACE = uuid.UUID("6f0e3c1a-5b7d-4e2f-9a8c-1d2e3f405162")
_POP_MU, _POP_SIGMA = 7.6, 2.0  # log(members) ~ N(mu, sigma) before type/status shifts
_POP_SHIFT = {"TV": 0.7, "MOVIE": 0.3, "OVA": -0.3, "ONA": -0.4, "SPECIAL": -0.8, "MUSIC": -1.5, "PV": -2.0}
_TYPES = ("TV", "MOVIE", "OVA", "ONA", "SPECIAL", "MUSIC", "PV"), (55, 66, 76, 86, 95, 99, 100)
_STATUSES = ("FINISHED", "ONGOING", "UPCOMING", "UNKNOWN"), (85, 91, 98, 100)
_TV_EPISODES = (12, 13, 24, 25, 26, 10, 11, 50, 51, 52), (34, 50, 60, 65, 75, 79, 82, 84, 86, 89)
_SEASONS = ("WINTER", "SPRING", "SUMMER", "FALL")
_MONTHS = "January February March April May June July August September October November December".split()
_RATINGS = (
    text.split_spec("""G - All Ages; PG - Children; PG-13 - Teens 13 or older;
    R - 17+ (violence & profanity); R+ - Mild Nudity; Rx - Hentai"""),
    (15, 27, 72, 87, 97, 100),
)
_SOURCE_MATERIALS = text.split_spec("""ORIGINAL; MANGA; MANGA; LIGHT NOVEL; LIGHT NOVEL; GAME; OTHER;
    WEB MANGA; VISUAL NOVEL; NOVEL; UNKNOWN; MIXED MEDIA""")
_RELATIONS = text.split_spec("SEQUEL; PREQUEL; SIDE STORY; ALTERNATIVE VERSION; SPIN-OFF; SUMMARY; OTHER")
_DAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
# Provider | chance to list it | URL prefix (MAL's presence is _has_mal, so other entries can link to it).
_PROVIDERS = [
    (p, float(c), u)
    for p, c, u in text.parse_rows("""
    anidb|0.6|https://anidb.net/anime/; anilist|0.8|https://anilist.co/anime/;
    animecountdown|0.45|https://animecountdown.com/; animeplanet|0.7|https://anime-planet.com/anime/;
    animenewsnetwork|0.3|https://animenewsnetwork.com/encyclopedia/anime.php?id=;
    anisearch|0.5|https://anisearch.com/anime/; kitsu|0.75|https://kitsu.app/anime/;
    livechart|0.4|https://livechart.me/anime/; mal|0|https://myanimelist.net/anime/;
    notify|0.35|https://notify.moe/anime/; simkl|0.45|https://simkl.com/anime/;
    animeschedule|0.3|https://animeschedule.net/anime/""")
]
_PROVIDER_OF_HOST = {prefix.split("/")[2]: name for name, _, prefix in _PROVIDERS}
_NON_SLUG = re.compile(r"[^a-z0-9]+")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class WrittenFile(NamedTuple):
    """What a writer produced."""

    path: Path
    records: int
    size_bytes: int


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


def _weighted(rng: FastRandom, table: tuple[Any, tuple[int, ...]]) -> Any:
    return rng.choices(table[0], cum_weights=table[1])[0]


@lru_cache(maxsize=64)
def _salts(seed: int) -> dict[str, tuple[int, int]]:
    """Per name ``(odd multiplier, offset)``: ``index -> (m * index + o) % MAX_ENTRIES`` is a bijection."""
    salts = {}
    for name in [p[0] for p in _PROVIDERS] + ["image", "character", "has_mal"]:
        value = int.from_bytes(hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest(), "big")
        salts[name] = ((value >> 32) | 1, value % MAX_ENTRIES)
    return salts


def _perm(seed: int, name: str, index: int) -> int:
    mult, offset = _salts(seed)[name]
    return (mult * index + offset) % MAX_ENTRIES


def _has_mal(seed: int, index: int) -> bool:
    return _perm(seed, "has_mal", index) % 100 < 88


def _rng(seed: int, index: int) -> FastRandom:
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=16).digest()
    return FastRandom(int.from_bytes(digest, "big"))


def entry_id(seed: int, index: int) -> str:
    """The ``id`` of entry ``index`` for ``seed``: a UUID5 over both."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"synthetic:{seed}:{index}"))


def _b62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rest = divmod(value, 62)
        chars.append(_B62[rest])
    return "".join(chars)


def _company(name: str, kind: str) -> dict[str, str]:
    return {
        "name": name,
        "type": kind,
        "url": f"https://myanimelist.net/anime/producer/{name.replace(' ', '_')}",
    }


def _check_count(count: int) -> None:
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
    return max(year, 1960), "UNDEFINED" if rng.random() < 0.06 else rng.choice(_SEASONS)


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
            episodes = _weighted(rng, _TV_EPISODES)
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
    kind, status = _weighted(rng, _TYPES), _weighted(rng, _STATUSES)
    year, season = _year_season(rng, status)
    episodes, duration = _episodes(rng, kind, status)
    title = text.make_title(rng, kind)
    slug = _NON_SLUG.sub("-", title.romaji.lower()).strip("-")
    sources = []
    for name, chance, prefix in _PROVIDERS:
        if not (_has_mal(seed, index) if name == "mal" else rng.random() < chance):
            continue
        number = _perm(seed, name, index) + 1
        if name in ("animeplanet", "animeschedule"):
            sources.append(f"{prefix}{slug}-{_b62(number, 4).lower()}")
        elif name == "notify":
            sources.append(prefix + _b62(number * 1_000_000_007, 9))
        else:
            sources.append(f"{prefix}{number}")
    synonyms = [text.macronize(title.romaji), title.english, title.japanese]
    if rng.random() < 0.3:
        synonyms.append("".join(w[0] for w in title.romaji.split() if w[0].isupper()))
    synonyms = [s for s in dict.fromkeys(synonyms) if s and s != title.romaji and rng.random() < 0.7]
    tags = sorted(rng.sample(text.TAGS, rng.randint(3, 15)))
    genres = rng.sample(text.GENRES, rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5)))
    studios = rng.sample(text.STUDIOS, rng.choice((0, 1, 1, 1, 1, 2)))
    producers = rng.sample(text.PRODUCERS, rng.choice((0, 0, 1, 2, 3, 4, 5)))
    related = []
    if index > 0 and rng.random() < 0.2:
        for j in sorted(rng.sample(range(max(0, index - 30), index), min(index, rng.randint(1, 3)))):
            if _has_mal(seed, j):
                related.append((j, f"https://myanimelist.net/anime/{_perm(seed, 'mal', j) + 1}"))
    z = rng.gauss(0.0, 1.0) + _POP_SHIFT[kind] - (1.2 if status == "UPCOMING" else 0.0)
    provider_scores, score = _score(rng, z) if status != "UPCOMING" else ({}, None)
    image_number = _perm(seed, "image", index) * 4
    return Core(
        index, kind, status, season, year, episodes, duration, title, sources, synonyms, tags, genres,
        studios, producers, related, image_number, z, provider_scores, score,
    )  # fmt: skip


def _rank(z: float, total: int) -> int:
    """Rank among ``total`` of a value ``z`` standard deviations above the mean."""
    return 1 + int(total * 0.5 * (1.0 - math.erf(z / math.sqrt(2.0))))


def _statistics(rng: FastRandom, core: Core) -> dict[str, Any]:
    """Per-provider statistics; ``popularity_rank`` falls as ``members`` grows, score tracks popularity."""
    providers = {_PROVIDER_OF_HOST[url.split("/")[2]] for url in core.sources}
    members = min(max(1, int(math.exp(_POP_MU + _POP_SIGMA * core.popularity))), 4_200_000)
    scores = core.provider_scores
    stats: dict[str, Any] = {}
    for name, share, total in (("mal", 1.0, 28_000), ("anilist", 0.55, 20_000), ("kitsu", 0.08, 22_000)):
        if name not in providers:
            continue
        own = max(1, int(members * share))
        block: dict[str, Any] = {}
        if name in scores:
            block["score"] = scores[name]
            block["scored_by"] = int(own * rng.uniform(0.35, 0.7))
            block["rank"] = _rank((scores[name] - 6.4) / 0.9, total)
        block["popularity_rank"] = _rank((math.log(own / share) - _POP_MU) / _POP_SIGMA, total)
        block["members"] = own
        block["favorites"] = int(own * 0.003 * math.exp(0.5 * core.popularity) * rng.uniform(0.5, 1.5))
        if name == "anilist":
            block["contextual_ranks"] = []
        stats[name] = block
    for name in ("animeplanet", "anidb"):
        if name in providers and name in scores:
            stats[name] = {"score": scores[name], "scored_by": max(1, int(members * rng.uniform(0.02, 0.06)))}
    if "animeschedule" in providers:
        stats["animeschedule"] = {}
    return stats


def _aired(rng: FastRandom, core: Core) -> tuple[int | None, int | None, dict[str, Any] | None]:
    """(first-day ordinal, month, ``aired_dates``) consistent with season, year and status."""
    if core.year is None:
        return None, None, None
    if core.season == "UNDEFINED":
        month = rng.randint(1, 12) if rng.random() < 0.5 else None
    else:
        month = _SEASONS.index(core.season) * 3 + rng.randint(1, 3)
    if month is None:
        return None, None, {"string": str(core.year)}
    start = date(core.year, month, rng.randint(1, 28))
    aired: dict[str, Any] = {"from": f"{start.isoformat()}T00:00:00Z"}
    label = f"{start.strftime('%b')} {start.day}, {start.year}"
    if core.status == "FINISHED" and core.episodes > 1:
        end = date.fromordinal(start.toordinal() + 7 * (core.episodes - 1))
        aired["to"] = f"{end.isoformat()}T00:00:00Z"
        aired["string"] = f"{label} to {end.strftime('%b')} {end.day}, {end.year}"
    else:
        aired["string"] = f"{label} to ?" if core.status == "ONGOING" else label
    return start.toordinal(), month, aired


def build_entry(seed: int, core: Core, rng: FastRandom, titles: Mapping[int, str]) -> dict[str, Any]:
    """The enriched entry of ``core`` (``titles``: known titles of other indexes)."""
    index, title = core.position, core.title
    cast = [text.make_name(rng) for _ in range(3)]
    slots = text.entry_slots(rng, cast)
    if core.year is not None:
        slots["year"] = str(core.year - 1)  # the announcement year in backgrounds
    first_day, month, aired = _aired(rng, core)
    rating = _weighted(rng, _RATINGS)
    entry: dict[str, Any] = {"id": entry_id(seed, index), "title": title.romaji, "type": core.type}
    entry.update(status=core.status, episodes=core.episodes, sources=core.sources)
    if core.season != "UNDEFINED" or rng.random() < 0.5:
        entry["season"] = core.season
    if core.year is not None:
        entry["year"] = core.year
    if month is not None:
        entry["month"] = _MONTHS[month - 1]
    entry.update(nsfw=rating.startswith("Rx"), rating=rating, duration=core.duration)
    entry["source_material"] = rng.choice(_SOURCE_MATERIALS)
    if rng.random() < 0.97:
        entry["synopsis"] = text.make_synopsis(rng, slots)
    if rng.random() < 0.2:
        entry["background"] = text.make_background(rng, slots)
    if title.english in core.synonyms or rng.random() < 0.3:
        entry["title_english"] = title.english
    if rng.random() < 0.93:
        entry["title_japanese"] = title.japanese
    entry.update(genres=core.genres, tags=core.tags, synonyms=core.synonyms)
    if rng.random() < 0.3:
        entry["demographics"] = [rng.choice(text.DEMOGRAPHICS)]
    if rng.random() < 0.1:
        entry["content_warnings"] = rng.sample(text.WARNINGS, rng.randint(1, 3))
    entry["streaming_licenses"] = licenses = rng.sample(text.PLATFORMS, rng.choice((0, 0, 0, 1, 1, 2)))
    if n_characters := min(20, int(rng.expovariate(1 / (5 if core.type == "TV" else 2.5)))):
        first_id = _perm(seed, "character", index) * 32
        entry["characters"] = text.make_characters(rng, n_characters, cast, slots, first_id, CDN)
    if core.episodes and rng.random() < 0.35:
        page = next((s for s in core.sources if "myanimelist.net" in s), core.sources[0])
        details = text.make_episode_details(
            rng, min(core.episodes, 50), first_day, core.duration, page, slots
        )
        entry["episode_details"] = details
    if core.related:
        entry["related_anime"] = [
            {"title": titles.get(j) or f"Anime {j}", "relation_type": rng.choice(_RELATIONS), "url": url}
            for j, url in core.related
        ]
    if rng.random() < 0.15:
        url = f"https://myanimelist.net/manga/{_perm(seed, 'image', index) + 1}"
        entry["relations"] = [{"title": title.romaji, "relation_type": "ADAPTATION", "url": url}]
    themes = rng.sample(text.THEMES, rng.choice((0, 1, 2, 2, 3, 4)))
    entry["themes"] = [{"name": n, "description": d} if d else {"name": n} for n, d in themes]
    if rng.random() < 0.3:
        artist = text.make_name(rng).given
        entry["opening_themes"] = [{"title": text.make_episode_title(rng), "artist": artist}]
        ending: dict[str, Any] = {"title": text.make_episode_title(rng)}
        if core.episodes > 1:
            ending["episodes"] = f"1-{core.episodes}"
        entry["ending_themes"] = [ending]
    if rng.random() < 0.25:
        video = _b62(core.image_number * 2_654_435_761, 11)
        entry["trailers"] = [{"url": f"https://www.youtube.com/watch?v={video}", "title": "Official Trailer"}]
    if licenses and rng.random() < 0.3:
        entry["streaming_info"] = [
            {
                "platform": p,
                "url": f"https://watch.example-anime.test/{_NON_SLUG.sub('-', p.lower())}/{index}",
                "subtitle_languages": ["en"],
            }
            for p in licenses
        ]
    covers = [f"{CDN}/images/anime/{core.image_number + k}.jpg" for k in range(rng.randint(1, 3))]
    posters = [f"{CDN}/images/anime/{core.image_number + 3}.jpg"] if rng.random() < 0.6 else []
    banners = [f"{CDN}/images/banners/{core.image_number}.jpg"] if rng.random() < 0.2 else []
    entry["images"] = {"covers": covers, "posters": posters, "banners": banners}
    if core.score is not None:
        entry["score"] = dict(core.score)
    entry["statistics"] = _statistics(rng, core)
    staff: dict[str, Any] = {}
    if rng.random() < 0.75:
        staff["production_staff"] = text.make_staff(rng, _perm(seed, "character", index) * 16)
    if core.studios:
        staff["studios"] = [_company(n, "animation_studio") for n in core.studios]
    if core.producers:
        staff["producers"] = [_company(n, "producer") for n in core.producers]
    entry["staff_data"] = staff
    if aired is not None:
        entry["aired_dates"] = aired
    if core.type == "TV" and core.status == "ONGOING":
        time = f"{rng.randint(17, 25) % 24:02d}:{rng.choice(('00', '30'))}"
        entry["broadcast"] = {"day": rng.choice(_DAYS), "time": time, "timezone": "Asia/Tokyo"}
    if rng.random() < 0.45:
        entry["delay_information"] = {"delayed_timetable": False}
    if aired is not None and "from" in aired and rng.random() < 0.3:
        entry["premiere_dates"] = {"original": aired["from"][:10]}
    if rng.random() < 0.7:
        entry["external_links"] = {_PROVIDER_OF_HOST[s.split("/")[2]]: s for s in core.sources[:4]}
    enriched_at = f"2025-07-{1 + index % 28:02d}T{index % 24:02d}:00:00Z"
    entry["enrichment_metadata"] = {"source": "multi-source", "enriched_at": enriched_at, "success": True}
    entry["system_status"] = "ACTIVE"
    return entry


def generate_entries(count: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` enriched entries (``AnimeEntry`` JSON dicts), streamed one by one.

    Deterministic for ``seed``; entry ``i`` does not depend on ``count``.
    """
    _check_count(count)
    titles: dict[int, str] = {}  # the last 31 titles, for related_anime
    for index in range(count):
        rng = _rng(seed, index)
        core = build_core(seed, index, rng)
        yield build_entry(seed, core, rng, titles)
        titles[index] = core.title.romaji
        titles.pop(index - 31, None)


def offline_record_for(entry: Mapping[str, Any], *, map_types: bool = False) -> dict[str, Any]:
    """The offline-database record describing the same anime as the enriched ``entry``.

    Same sources, title, type, episodes, status, season (``UNDEFINED`` when absent)
    and year. Picture from the first cover or poster (else the source's no-picture
    URL), and duration, score, synonyms, lower-case studio and producer names,
    related-anime URLs and tags when the entry has them. Works for any entry, not
    only generated ones. ``map_types`` turns ``MUSIC``/``PV``/``CM`` into ``SPECIAL``
    as the real source does (its enum has none of them); by default the type is kept.
    """
    images = entry.get("images") or {}
    pictures = [u for u in [*images.get("covers", []), *images.get("posters", [])] if isinstance(u, str)]
    picture = pictures[0] if pictures else NO_PIC
    if picture == NO_PIC:
        thumbnail = NO_PIC_THUMBNAIL
    else:
        thumbnail = picture[:-4] + "t.jpg" if picture.endswith(".jpg") else picture
    season: dict[str, Any] = {"season": entry.get("season") or "UNDEFINED"}
    if entry.get("year") is not None:
        season["year"] = entry["year"]
    kind = entry["type"]
    if map_types and kind in ("MUSIC", "PV", "CM"):
        kind = "SPECIAL"
    record: dict[str, Any] = {"sources": list(entry["sources"]), "title": entry["title"], "type": kind}
    record.update(episodes=entry.get("episodes", 0), status=entry["status"], animeSeason=season)
    record.update(picture=picture, thumbnail=thumbnail)
    if entry.get("duration"):
        record["duration"] = {"value": entry["duration"], "unit": "SECONDS"}
    if score := entry.get("score"):
        record["score"] = {
            "arithmeticGeometricMean": score["arithmetic_geometric_mean"],
            "arithmeticMean": score["arithmetic_mean"],
            "median": score["median"],
        }
    staff = entry.get("staff_data") or {}
    record["synonyms"] = list(entry.get("synonyms") or [])
    record["studios"] = [c["name"].lower() for c in staff.get("studios") or []]
    record["producers"] = [c["name"].lower() for c in staff.get("producers") or []]
    record["relatedAnime"] = [r["url"] for r in entry.get("related_anime") or [] if r.get("url")]
    record["tags"] = list(entry.get("tags") or [])
    return record


def generate_offline_records(count: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Raw offline-database records (``OfflineRecord`` JSON) of the anime of ``generate_entries``.

    Record ``i`` equals ``offline_record_for(entry_i, map_types=True)`` but only the
    core of each anime is generated, so this is several times faster.
    """
    _check_count(count)
    for index in range(count):
        core = build_core(seed, index, _rng(seed, index))
        view = {
            "sources": core.sources, "title": core.title.romaji, "type": core.type, "episodes": core.episodes,
            "status": core.status, "season": core.season, "year": core.year, "duration": core.duration,
            "images": {"covers": [f"{CDN}/images/anime/{core.image_number}.jpg"]}, "score": core.score,
            "synonyms": core.synonyms, "tags": core.tags,
            "related_anime": [{"url": url} for _, url in core.related],
            "staff_data": {"studios": [{"name": n} for n in core.studios],
                           "producers": [{"name": n} for n in core.producers]},
        }  # fmt: skip
        yield offline_record_for(view, map_types=True)


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def write_enriched_file(
    path: str | Path,
    count: int,
    *,
    seed: int = 0,
    source_commit_sha: str | None = None,
    last_update: str = DEFAULT_LAST_UPDATE,
) -> WrittenFile:
    """Write ``generate_entries(count, seed=seed)`` as an enriched database file, streaming.

    Root ``{license, repository, lastUpdate, enrichmentInfo, data}``, one entry per
    line. ``source_commit_sha`` (the offline-database commit the data stands for)
    goes to ``enrichmentInfo.sourceCommitSha``.
    """
    _check_count(count)
    info: dict[str, Any] = {
        "totalAnime": count,
        "enrichmentVersion": "1.0.0",
        "sources": ["mal", "anilist", "kitsu", "animeplanet", "animeschedule", "anidb"],
        "description": f"Synthetic enriched anime database (seed {seed})",
        "lastEnrichment": last_update,
    }
    if source_commit_sha is not None:
        info["sourceCommitSha"] = source_commit_sha
    head = {
        "license": {"name": "CC0-1.0 (synthetic test data)", "url": "https://example-anime.test/LICENSE"},
        "repository": "https://example-anime.test/synthetic-anime-database",
        "lastUpdate": last_update,
        "enrichmentInfo": info,
    }
    target = Path(path)
    with target.open("w", encoding="utf-8") as out:
        out.write(_dumps(head)[:-1] + ',"data":[')
        for n, entry in enumerate(generate_entries(count, seed=seed)):
            out.write(",\n" if n else "\n")
            out.write(_dumps(entry))
        out.write("\n]}\n")
    return WrittenFile(target, count, target.stat().st_size)


def write_offline_file(
    path: str | Path,
    records: Iterable[Mapping[str, Any]],
    fmt: Literal["json", "jsonl"] = "json",
    *,
    last_update: str = DEFAULT_LAST_UPDATE,
) -> WrittenFile:
    """Write offline-database records in the source's shapes, streaming.

    ``json``: the minified root ``{$schema, license, repository, scoreRange, lastUpdate,
    data}`` on one line. ``jsonl``: line 1 is that root without ``data``, then one
    record per line.
    """
    if fmt not in ("json", "jsonl"):
        raise ValueError(f"fmt must be 'json' or 'jsonl', got {fmt!r}")
    schema = "anime-offline-database-minified" if fmt == "json" else "anime-offline-database.jsonl"
    head = {
        "$schema": f"{_SCHEMA_URL}{schema}.schema.json",
        "license": OFFLINE_LICENSE,
        "repository": OFFLINE_REPOSITORY,
        "scoreRange": {"minInclusive": 1.0, "maxInclusive": 10.0},
        "lastUpdate": last_update,
    }
    target = Path(path)
    written = 0
    with target.open("w", encoding="utf-8") as out:
        out.write(_dumps(head)[:-1] + ',"data":[' if fmt == "json" else _dumps(head) + "\n")
        for record in records:
            if fmt == "json":
                out.write("," + _dumps(record) if written else _dumps(record))
            else:
                out.write(_dumps(record) + "\n")
            written += 1
        if fmt == "json":
            out.write("]}")
    return WrittenFile(target, written, target.stat().st_size)
