#!/usr/bin/env python3
"""Structural sanity check of the project-authored anime sample and its labelled search queries.

Standard library only. Checks the sample file
(``services/indexer/avs_indexer/sample_data/anime_sample.json``) and the search-quality
queries (``tests/fixtures/search_quality/queries.json``):

- root keys, unique UUID ids, unique titles, unique provider source URLs;
- required fields and their types, enum values, plausible years, episode counts and
  durations, synopsis word counts, score ranges, MAL popularity ranks consistent with
  member counts, characters / episodes / relations / themes shapes;
- every query has a known kind, non-empty relevant ids that all exist, title queries
  match the titles of their relevant entries, "like X" queries do not list X itself,
  and each kind has at least its minimum number of queries.

Usage: ``python scripts/check_sample.py [SAMPLE_JSON [QUERIES_JSON]]``. Exits 1 and lists
every problem found, or prints a summary and exits 0.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, TypeGuard

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SAMPLE = REPO / "services/indexer/avs_indexer/sample_data/anime_sample.json"
DEFAULT_QUERIES = REPO / "tests/fixtures/search_quality/queries.json"

TYPES = {"TV", "MOVIE", "OVA", "ONA", "SPECIAL", "UNKNOWN", "MUSIC", "PV"}
STATUSES = {"FINISHED", "ONGOING", "UPCOMING", "UNKNOWN"}
SEASONS = {"SPRING", "SUMMER", "FALL", "WINTER", "UNDEFINED"}
MONTHS = {
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
}
RATINGS = {
    "G - All Ages",
    "PG - Children",
    "PG-13 - Teens 13 or older",
    "R - 17+ (violence & profanity)",
    "R+ - Mild Nudity",
    "Rx - Hentai",
}
ROLES = {"MAIN", "SUPPORTING"}
SYSTEM_STATUSES = {"ACTIVE", "ORPHANED"}
REQUIRED = {
    "id": str,
    "title": str,
    "title_english": str,
    "type": str,
    "status": str,
    "episodes": int,
    "year": int,
    "synopsis": str,
    "genres": list,
    "tags": list,
    "synonyms": list,
    "sources": list,
    "images": dict,
    "score": dict,
    "statistics": dict,
    "characters": list,
    "enrichment_metadata": dict,
    "system_status": str,
}
SOURCE_PATTERNS = [
    re.compile(r"^https://myanimelist\.net/anime/\d+$"),
    re.compile(r"^https://anilist\.co/anime/\d+$"),
    re.compile(r"^https://kitsu\.(io|app)/anime/[\w-]+$"),
    re.compile(r"^https://anidb\.net/anime/\d+$"),
    re.compile(r"^https://anime-planet\.com/anime/[\w-]+$"),
]
UTC_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SYNOPSIS_WORDS = (60, 150)
YEAR_RANGE = (1917, 2027)
MIN_ENTRIES = 48

QUERY_KINDS = {"title_english", "title_romaji", "title_japanese", "synonym", "plot", "genre_era", "like"}
# Minimum number of queries per kind; romaji titles and synonyms count together.
MIN_QUERIES = {
    ("title_english",): 8,
    ("title_romaji", "synonym"): 8,
    ("title_japanese",): 8,
    ("plot",): 12,
    ("genre_era",): 6,
    ("like",): 6,
}
MIN_QUERIES_TOTAL = 48


class Problems:
    """Collects problems with the location they were found at."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def load(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def is_uuid4(value: str) -> bool:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_entry(entry: dict[str, Any], where: str, p: Problems) -> None:
    for field, kind in REQUIRED.items():
        if field not in entry:
            p.add(where, f"missing required field {field!r}")
        elif kind is int and not is_int(entry[field]):
            p.add(where, f"{field!r} must be an integer")
        elif kind is not int and not isinstance(entry[field], kind):
            p.add(where, f"{field!r} must be {kind.__name__}")
    if not isinstance(entry.get("id"), str) or not is_uuid4(entry["id"]):
        p.add(where, "id must be a lowercase UUID4 string")
    if entry.get("type") not in TYPES:
        p.add(where, f"unknown type {entry.get('type')!r}")
    if entry.get("status") not in STATUSES:
        p.add(where, f"unknown status {entry.get('status')!r}")
    if "season" in entry and entry["season"] not in SEASONS:
        p.add(where, f"unknown season {entry['season']!r}")
    if "month" in entry and entry["month"] not in MONTHS:
        p.add(where, f"unknown month {entry['month']!r}")
    if "rating" in entry and entry["rating"] not in RATINGS:
        p.add(where, f"unknown rating {entry['rating']!r}")
    if entry.get("nsfw") is not False:
        p.add(where, "nsfw must be false in this sample")
    if entry.get("system_status") not in SYSTEM_STATUSES:
        p.add(where, f"unknown system_status {entry.get('system_status')!r}")
    for field in ("title", "title_english", "title_japanese", "synopsis"):
        if isinstance(entry.get(field), str) and not entry[field].strip():
            p.add(where, f"{field!r} is empty")

    year = entry.get("year")
    if is_int(year) and not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        p.add(where, f"implausible year {year}")
    episodes = entry.get("episodes")
    if is_int(episodes):
        if episodes < 0:
            p.add(where, "episodes must be >= 0")
        if entry.get("type") == "MOVIE" and episodes != 1:
            p.add(where, "a MOVIE should have exactly 1 episode")
        if episodes == 0 and entry.get("status") == "FINISHED":
            p.add(where, "a FINISHED entry should have a known episode count")
    duration = entry.get("duration")
    if duration is not None and (not is_int(duration) or not 60 <= duration <= 4 * 3600):
        p.add(where, f"implausible duration (seconds per episode) {duration!r}")

    synopsis = entry.get("synopsis")
    if isinstance(synopsis, str):
        words = len(synopsis.split())
        if not SYNOPSIS_WORDS[0] <= words <= SYNOPSIS_WORDS[1]:
            p.add(where, f"synopsis has {words} words, expected {SYNOPSIS_WORDS[0]}-{SYNOPSIS_WORDS[1]}")

    for field in ("genres", "tags", "synonyms", "demographics"):
        values = entry.get(field, [])
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
            p.add(where, f"{field!r} must be a list of non-empty strings")
        elif len(set(values)) != len(values):
            p.add(where, f"{field!r} has duplicates")
    if not entry.get("genres"):
        p.add(where, "genres is empty")

    sources = entry.get("sources")
    if isinstance(sources, list):
        if not sources:
            p.add(where, "sources is empty")
        for url in sources:
            if not isinstance(url, str) or not any(pat.match(url) for pat in SOURCE_PATTERNS):
                p.add(where, f"unexpected source URL {url!r}")

    images = entry.get("images")
    if isinstance(images, dict):
        for image_kind in ("covers", "posters", "banners"):
            urls = images.get(image_kind)
            if not isinstance(urls, list) or not all(
                isinstance(u, str) and u.startswith("https://") for u in urls
            ):
                p.add(where, f"images.{image_kind} must be a list of https URLs")
        if not images.get("covers"):
            p.add(where, "images.covers is empty")

    score = entry.get("score")
    if isinstance(score, dict):
        for key in ("arithmetic_geometric_mean", "arithmetic_mean", "median"):
            value = score.get(key)
            if not isinstance(value, (int, float)) or not 0 <= value <= 10:
                p.add(where, f"score.{key} must be a number in 0-10")

    stats = entry.get("statistics", {}).get("mal") if isinstance(entry.get("statistics"), dict) else None
    if not isinstance(stats, dict):
        p.add(where, "statistics.mal is missing")
    else:
        if not isinstance(stats.get("score"), (int, float)) or not 0 <= stats["score"] <= 10:
            p.add(where, "statistics.mal.score must be in 0-10")
        for key in ("scored_by", "rank", "popularity_rank", "members", "favorites"):
            if not is_int(stats.get(key)) or stats[key] < 0:
                p.add(where, f"statistics.mal.{key} must be a non-negative integer")
        if (
            is_int(stats.get("scored_by"))
            and is_int(stats.get("members"))
            and stats["scored_by"] > stats["members"]
        ):
            p.add(where, "statistics.mal.scored_by exceeds members")
        if (
            is_int(stats.get("favorites"))
            and is_int(stats.get("members"))
            and stats["favorites"] > stats["members"]
        ):
            p.add(where, "statistics.mal.favorites exceeds members")

    characters = entry.get("characters")
    if isinstance(characters, list):
        if not 2 <= len(characters) <= 6:
            p.add(where, f"expected 2-6 characters, found {len(characters)}")
        for i, char in enumerate(characters):
            cwhere = f"{where} characters[{i}]"
            if (
                not isinstance(char, dict)
                or not isinstance(char.get("name"), str)
                or not char["name"].strip()
            ):
                p.add(cwhere, "character needs a name")
                continue
            if char.get("role") not in ROLES:
                p.add(cwhere, f"role must be one of {sorted(ROLES)}")
            for va in char.get("voice_actors", []):
                if not isinstance(va, dict) or not va.get("name") or va.get("language") != "Japanese":
                    p.add(cwhere, "voice_actors entries need a name and language 'Japanese'")
        if characters and not any(c.get("role") == "MAIN" for c in characters if isinstance(c, dict)):
            p.add(where, "no MAIN character")

    seen_numbers: set[int] = set()
    for i, ep in enumerate(entry.get("episode_details", [])):
        ewhere = f"{where} episode_details[{i}]"
        number = ep.get("episode_number") if isinstance(ep, dict) else None
        if not is_int(number) or number < 1:
            p.add(ewhere, "episode_number must be a positive integer")
            continue
        if number in seen_numbers:
            p.add(ewhere, f"duplicate episode_number {number}")
        seen_numbers.add(number)
        if is_int(episodes) and episodes > 0 and number > episodes:
            p.add(ewhere, f"episode_number {number} exceeds episodes {episodes}")
        if "aired" in ep and (not isinstance(ep["aired"], str) or not UTC_DATETIME.match(ep["aired"])):
            p.add(ewhere, f"aired must be YYYY-MM-DDTHH:MM:SSZ, got {ep['aired']!r}")
        if "aired" in ep and is_int(year) and isinstance(ep["aired"], str) and int(ep["aired"][:4]) < year:
            p.add(ewhere, "aired before the entry's year")

    for i, rel in enumerate(entry.get("related_anime", [])):
        if not isinstance(rel, dict) or not rel.get("title") or not rel.get("relation_type"):
            p.add(f"{where} related_anime[{i}]", "needs title and relation_type")
        elif rel.get("url") is not None and not str(rel["url"]).startswith("https://"):
            p.add(f"{where} related_anime[{i}]", "url must be https")

    for i, theme in enumerate(entry.get("themes", [])):
        if not isinstance(theme, dict) or not isinstance(theme.get("name"), str) or not theme["name"]:
            p.add(f"{where} themes[{i}]", "needs a name")

    meta = entry.get("enrichment_metadata")
    if isinstance(meta, dict):
        if not isinstance(meta.get("source"), str) or not isinstance(meta.get("success"), bool):
            p.add(where, "enrichment_metadata needs source and success")
        if not isinstance(meta.get("enriched_at"), str) or not UTC_DATETIME.match(meta["enriched_at"]):
            p.add(where, "enrichment_metadata.enriched_at must be a UTC datetime")


def check_sample(doc: Any, p: Problems) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        p.add("sample", "root must be an object")
        return []
    for key in ("license", "repository", "lastUpdate", "data"):
        if key not in doc:
            p.add("sample", f"root is missing {key!r}")
    license_ = doc.get("license")
    if not isinstance(license_, dict) or not license_.get("name") or not license_.get("url"):
        p.add("sample", "license needs name and url")
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", str(doc.get("lastUpdate", ""))):
        p.add("sample", "lastUpdate must be YYYY-MM-DD")
    data = doc.get("data")
    if not isinstance(data, list):
        p.add("sample", "data must be a list")
        return []
    if len(data) < MIN_ENTRIES:
        p.add("sample", f"only {len(data)} entries, expected at least {MIN_ENTRIES}")

    ids: Counter[str] = Counter()
    titles: Counter[str] = Counter()
    sources: dict[str, str] = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            p.add(f"data[{i}]", "entry must be an object")
            continue
        where = f"data[{i}] {entry.get('title', '?')!r}"
        check_entry(entry, where, p)
        ids[str(entry.get("id"))] += 1
        titles[str(entry.get("title", "")).casefold()] += 1
        for url in entry.get("sources", []) if isinstance(entry.get("sources"), list) else []:
            if url in sources:
                p.add(where, f"source {url} is also used by {sources[url]!r}")
            sources[url] = str(entry.get("title"))
    for value, count in ids.items():
        if count > 1:
            p.add("sample", f"id {value} used {count} times")
    for value, count in titles.items():
        if count > 1:
            p.add("sample", f"title {value!r} used {count} times")

    # MAL popularity rank orders by members: more members, better (smaller) rank.
    ranked = []
    for entry in data:
        stats = (entry.get("statistics") or {}).get("mal") if isinstance(entry, dict) else None
        if isinstance(stats, dict) and is_int(stats.get("members")) and is_int(stats.get("popularity_rank")):
            ranked.append((stats["members"], stats["popularity_rank"], entry.get("title")))
    ranked.sort(key=lambda t: -t[0])
    for (m1, r1, t1), (m2, r2, t2) in itertools.pairwise(ranked):
        if r2 <= r1:
            p.add(
                "sample",
                f"popularity_rank not consistent with members: {t1!r} ({m1}, #{r1}) vs {t2!r} ({m2}, #{r2})",
            )
    return [e for e in data if isinstance(e, dict)]


def normalise(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.casefold()).strip()


def check_queries(queries: Any, entries: list[dict[str, Any]], p: Problems) -> Counter[str]:
    kinds: Counter[str] = Counter()
    if not isinstance(queries, list):
        p.add("queries", "root must be a list")
        return kinds
    by_id = {e.get("id"): e for e in entries}
    seen: set[str] = set()
    for i, item in enumerate(queries):
        where = f"queries[{i}]"
        if not isinstance(item, dict):
            p.add(where, "query must be an object")
            continue
        text, kind, relevant = item.get("query"), item.get("kind"), item.get("relevant")
        if not isinstance(text, str) or not text.strip():
            p.add(where, "query text is empty")
            continue
        where = f"{where} {text!r}"
        if text.casefold() in seen:
            p.add(where, "duplicate query text")
        seen.add(text.casefold())
        if kind not in QUERY_KINDS:
            p.add(where, f"unknown kind {kind!r}")
            continue
        kinds[kind] += 1
        if not isinstance(relevant, list) or not relevant:
            p.add(where, "relevant must be a non-empty list of ids")
            continue
        if len(set(relevant)) != len(relevant):
            p.add(where, "relevant has duplicate ids")
        missing = [r for r in relevant if r not in by_id]
        for r in missing:
            p.add(where, f"relevant id {r} is not in the sample")
        targets = [by_id[r] for r in relevant if r in by_id]
        if not targets:
            continue
        if kind == "title_english" and not all(t.get("title_english") == text for t in targets):
            p.add(where, "title_english query must equal title_english of every relevant entry")
        if kind == "title_japanese" and not all(t.get("title_japanese") == text for t in targets):
            p.add(where, "title_japanese query must equal title_japanese of every relevant entry")
        if kind in ("title_romaji", "synonym"):
            for t in targets:
                names = [t.get("title", ""), *list(t.get("synonyms", []))]
                if not any(normalise(text) in normalise(n) for n in names if isinstance(n, str)):
                    p.add(where, f"{kind} query does not match the title or synonyms of {t.get('title')!r}")
        if kind == "like":
            for t in targets:
                names = [t.get("title"), t.get("title_english")]
                if any(
                    isinstance(n, str) and normalise(n) and normalise(n) in normalise(text) for n in names
                ):
                    p.add(where, f"'like' query lists the reference anime {t.get('title')!r} itself")
    for group, minimum in MIN_QUERIES.items():
        count = sum(kinds[k] for k in group)
        if count < minimum:
            p.add("queries", f"{'+'.join(group)}: {count} queries, expected at least {minimum}")
    if sum(kinds.values()) < MIN_QUERIES_TOTAL:
        p.add("queries", f"{sum(kinds.values())} queries, expected at least {MIN_QUERIES_TOTAL}")
    return kinds


def summary(entries: list[dict[str, Any]], kinds: Counter[str]) -> str:
    by_type = Counter(e.get("type") for e in entries)
    by_status = Counter(e.get("status") for e in entries)
    by_decade = Counter(f"{(e['year'] // 10) * 10}s" for e in entries if is_int(e.get("year")))
    lines = [
        f"entries: {len(entries)}",
        f"  by type: {dict(sorted(by_type.items()))}",
        f"  by decade: {dict(sorted(by_decade.items()))}",
        f"  by status: {dict(sorted(by_status.items()))}",
        f"queries: {sum(kinds.values())}",
        f"  by kind: {dict(sorted(kinds.items()))}",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    sample_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_SAMPLE
    queries_path = Path(argv[2]) if len(argv) > 2 else DEFAULT_QUERIES
    p = Problems()
    entries = check_sample(load(sample_path), p)
    kinds = check_queries(load(queries_path), entries, p)
    if p.items:
        print(f"{len(p.items)} problem(s):", file=sys.stderr)
        for item in p.items:
            print(f"  - {item}", file=sys.stderr)
        return 1
    print(summary(entries, kinds))
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
