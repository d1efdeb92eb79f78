"""How an :class:`AnimeEntry` becomes a point of the ``anime`` collection.

Two named dense vectors, because the two kinds of question people ask differ:

* ``text``: titles, synopsis and background. Answers "what is it about" (plot
  descriptions, "a boy pilots a giant robot").
* ``tags``: genres, tags, themes, demographics and the main characters. Answers "what
  kind of show" ("dark psychological thriller", "sports anime about volleyball") and
  drives "similar to X", where the premise matters less than the kind.

A single vector over everything lets a long synopsis drown the genre signal (the model
truncates at 256 tokens), and vice versa.

The sparse ``bm25`` vector covers only titles and synonyms (Latin and Japanese
scripts), so that a query that *is* a title finds that anime first.

The payload holds exactly the fields that searches filter, sort or facet on, plus
what a result list shows; the full entry stays in DynamoDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avs_shared.schema import AnimeEntry, first_image
from avs_shared.schema.names import name_keys

# Longer text is truncated by the model anyway (256 tokens); cutting here keeps
# tokenisation cheap for huge synopses.
_MAX_CHARS = 2000
_MAX_CHARACTERS = 8


@dataclass(frozen=True)
class EntryTexts:
    """The texts embedded for one entry."""

    text: str
    tags: str


def _join(parts: list[str | None], sep: str) -> str:
    return sep.join(p.strip() for p in parts if p and p.strip())


def entry_titles(entry: AnimeEntry) -> list[str]:
    """Every title and synonym, first occurrence wins, empty ones dropped."""
    seen: dict[str, None] = {}
    for title in [entry.title, entry.title_english, entry.title_japanese, *entry.synonyms]:
        if title and title.strip():
            seen.setdefault(title.strip(), None)
    return list(seen)


def entry_texts(entry: AnimeEntry) -> EntryTexts:
    titles = entry_titles(entry)
    text = _join([" / ".join(titles[:4]), entry.synopsis, entry.background], "\n")[:_MAX_CHARS]
    characters = [
        _join([c.name, c.description[:160] if c.description else None], ": ")
        for c in entry.characters[:_MAX_CHARACTERS]
    ]
    tags = _join(
        [
            entry.title,
            f"Type: {entry.type}",
            "Genres: " + ", ".join(entry.genres) if entry.genres else None,
            "Themes: " + ", ".join(t.name for t in entry.themes) if entry.themes else None,
            "Demographics: " + ", ".join(entry.demographics) if entry.demographics else None,
            "Tags: " + ", ".join(entry.tags[:30]) if entry.tags else None,
            "Characters: " + "; ".join(characters) if characters else None,
        ],
        "\n",
    )[:_MAX_CHARS]
    return EntryTexts(text=text, tags=tags)


def _score(entry: AnimeEntry) -> float | None:
    for provider in ("mal", "anilist", "kitsu", "animeplanet", "anidb", "animeschedule"):
        stats = entry.statistics.get(provider)
        if stats is not None and stats.score is not None:
            return round(float(stats.score), 3)
    if entry.score is not None:
        return round(float(entry.score.arithmetic_mean), 3)
    return None


def _popularity(entry: AnimeEntry) -> int:
    """Members on the largest provider that reports them (bigger is more popular)."""
    members = [s.members for s in entry.statistics.values() if s.members is not None]
    return max(members) if members else 0


def entry_payload(entry: AnimeEntry) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "anime_id": entry.id,
        "title": entry.title,
        "title_english": entry.title_english,
        "title_japanese": entry.title_japanese,
        "synonyms": list(entry.synonyms),
        # Every name as an exact-name query compares it (avs_shared.schema.names). Never
        # empty: [""] for an anime without a name, which no query matches, so that a point
        # without the field is one indexed before it existed (the API checks for those).
        "name_keys": name_keys(entry_titles(entry)) or [""],
        "type": str(entry.type),
        "status": str(entry.status),
        "year": entry.year,
        "season": str(entry.season) if entry.season else None,
        "genres": list(entry.genres),
        "tags": list(entry.tags),
        "studios": [s.name for s in entry.staff_data.studios],
        "episodes": entry.episodes,
        "score": _score(entry),
        "popularity": _popularity(entry),
        "system_status": str(entry.system_status),
        "nsfw": bool(entry.nsfw),
        "rating": entry.rating,
        "image": first_image(entry.images),
    }
    if entry.orphaned_at is not None:
        payload["orphaned_at"] = entry.orphaned_at.isoformat()
    return {k: v for k, v in payload.items() if v is not None}
