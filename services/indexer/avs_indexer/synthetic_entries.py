"""Synthetic enriched entries (``AnimeEntry`` JSON dicts) built around each anime's core.

:func:`generate_entries` streams them; entry ``i`` of seed ``s`` depends only on
``(s, i)``. Everything beyond the :class:`~avs_indexer.synthetic_core.Core`
(statistics, dates, characters, prose, images, staff) is drawn here, after it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from avs_indexer import synthetic_text as text
from avs_indexer import synthetic_words as words
from avs_indexer.synthetic_core import (
    CDN,
    NON_SLUG,
    POP_MU,
    POP_SIGMA,
    PROVIDER_OF_HOST,
    SEASONS,
    Core,
    b62,
    build_core,
    check_count,
    entry_id,
    entry_rng,
    perm,
    weighted,
)
from avs_indexer.synthetic_text import FastRandom

_RATINGS = (
    words.split_spec("""G - All Ages; PG - Children; PG-13 - Teens 13 or older;
    R - 17+ (violence & profanity); R+ - Mild Nudity; Rx - Hentai"""),
    (15, 27, 72, 87, 97, 100),
)
_SOURCE_MATERIALS = words.split_spec("""ORIGINAL; MANGA; MANGA; LIGHT NOVEL; LIGHT NOVEL; GAME; OTHER;
    WEB MANGA; VISUAL NOVEL; NOVEL; UNKNOWN; MIXED MEDIA""")
_RELATIONS = words.split_spec("SEQUEL; PREQUEL; SIDE STORY; ALTERNATIVE VERSION; SPIN-OFF; SUMMARY; OTHER")
_DAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
_MONTHS = "January February March April May June July August September October November December".split()


def _company(name: str, kind: str) -> dict[str, str]:
    return {
        "name": name,
        "type": kind,
        "url": f"https://myanimelist.net/anime/producer/{name.replace(' ', '_')}",
    }


def _rank(z: float, total: int) -> int:
    """Rank among ``total`` of a value ``z`` standard deviations above the mean."""
    return 1 + int(total * 0.5 * (1.0 - math.erf(z / math.sqrt(2.0))))


def _statistics(rng: FastRandom, core: Core) -> dict[str, Any]:
    """Per-provider statistics; ``popularity_rank`` falls as ``members`` grows, score tracks popularity."""
    providers = {PROVIDER_OF_HOST[url.split("/")[2]] for url in core.sources}
    members = min(max(1, int(math.exp(POP_MU + POP_SIGMA * core.popularity))), 4_200_000)
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
        block["popularity_rank"] = _rank((math.log(own / share) - POP_MU) / POP_SIGMA, total)
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
        month = SEASONS.index(core.season) * 3 + rng.randint(1, 3)
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
    rating = weighted(rng, _RATINGS)
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
        entry["demographics"] = [rng.choice(words.DEMOGRAPHICS)]
    if rng.random() < 0.1:
        entry["content_warnings"] = rng.sample(words.WARNINGS, rng.randint(1, 3))
    entry["streaming_licenses"] = licenses = rng.sample(words.PLATFORMS, rng.choice((0, 0, 0, 1, 1, 2)))
    if n_characters := min(20, int(rng.expovariate(1 / (5 if core.type == "TV" else 2.5)))):
        first_id = perm(seed, "character", index) * 32
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
        url = f"https://myanimelist.net/manga/{perm(seed, 'image', index) + 1}"
        entry["relations"] = [{"title": title.romaji, "relation_type": "ADAPTATION", "url": url}]
    themes = rng.sample(words.THEMES, rng.choice((0, 1, 2, 2, 3, 4)))
    entry["themes"] = [{"name": n, "description": d} if d else {"name": n} for n, d in themes]
    if rng.random() < 0.3:
        artist = text.make_name(rng).given
        entry["opening_themes"] = [{"title": text.make_episode_title(rng), "artist": artist}]
        ending: dict[str, Any] = {"title": text.make_episode_title(rng)}
        if core.episodes > 1:
            ending["episodes"] = f"1-{core.episodes}"
        entry["ending_themes"] = [ending]
    if rng.random() < 0.25:
        video = b62(core.image_number * 2_654_435_761, 11)
        entry["trailers"] = [{"url": f"https://www.youtube.com/watch?v={video}", "title": "Official Trailer"}]
    if licenses and rng.random() < 0.3:
        entry["streaming_info"] = [
            {
                "platform": p,
                "url": f"https://watch.example-anime.test/{NON_SLUG.sub('-', p.lower())}/{index}",
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
        staff["production_staff"] = text.make_staff(rng, perm(seed, "character", index) * 16)
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
        entry["external_links"] = {PROVIDER_OF_HOST[s.split("/")[2]]: s for s in core.sources[:4]}
    enriched_at = f"2025-07-{1 + index % 28:02d}T{index % 24:02d}:00:00Z"
    entry["enrichment_metadata"] = {"source": "multi-source", "enriched_at": enriched_at, "success": True}
    entry["system_status"] = "ACTIVE"
    return entry


def generate_entries(count: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` enriched entries (``AnimeEntry`` JSON dicts), streamed one by one.

    Deterministic for ``seed``; entry ``i`` does not depend on ``count``.
    """
    check_count(count)
    titles: dict[int, str] = {}  # the last 31 titles, for related_anime
    for index in range(count):
        rng = entry_rng(seed, index)
        core = build_core(seed, index, rng)
        yield build_entry(seed, core, rng, titles)
        titles[index] = core.title.romaji
        titles.pop(index - 31, None)
