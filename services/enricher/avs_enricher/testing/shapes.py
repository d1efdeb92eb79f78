"""The fake anime of :mod:`.catalogue` in each provider's own answer shapes (Jikan, Kitsu,
AnimeSchedule here; AniList and AniDB in :mod:`.shapes_anilist` and :mod:`.shapes_anidb`).

The shapes follow the public APIs (Jikan v4, AniList GraphQL, Kitsu JSON:API edge,
AniDB's HTTP API XML, AnimeSchedule v3), including their quirks: MAL's ``Family, Given``
names and ``[Written by MAL Rewrite]``, Jikan episode dates at ``+09:00`` midnight,
AniList's Unix ``airingAt`` and HTML descriptions, Kitsu's percentage ratings and
string ids, AniDB's ``xml:lang`` titles and link markup, AnimeSchedule's naive Japan
times and ``0001-01-01`` for unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from avs_enricher.testing.catalogue import CATALOGUE, FakeAnime, FakeCharacter, FakeEpisode, FakePerson
from avs_shared.timezones import jst_to_utc

JsonDict = dict[str, Any]


def _slug(text: str) -> str:
    return "_".join(text.split())


def jst_date(episode: FakeEpisode) -> str:
    return episode.aired_jst[:10]


def airing_at(episode: FakeEpisode) -> int:
    return int(jst_to_utc(datetime.fromisoformat(episode.aired_jst)).timestamp())


def _named(kind: str, names: tuple[str, ...], base: int) -> list[JsonDict]:
    return [
        {
            "mal_id": base + i,
            "type": "anime",
            "name": n,
            "url": f"https://myanimelist.net/anime/{kind}/{base + i}/{_slug(n)}",
        }
        for i, n in enumerate(names)
    ]


# --------------------------------------------------------------------------- Jikan
def jikan_full(a: FakeAnime) -> JsonDict:
    movie = a.type == "MOVIE"
    day_time = a.broadcast or (None, None)
    return {
        "data": {
            "mal_id": a.mal_id,
            "url": f"https://myanimelist.net/anime/{a.mal_id}/{_slug(a.title)}",
            "images": {
                "jpg": {"image_url": a.picture.replace("l.jpg", ".jpg"), "large_image_url": a.picture},
                "webp": {"image_url": a.picture.replace("l.jpg", ".webp")},
            },
            "trailer": {
                "youtube_id": f"fake{a.key}",
                "url": f"https://www.youtube.com/watch?v=fake{a.key}",
                "embed_url": f"https://www.youtube.com/embed/fake{a.key}",
                "images": {"maximum_image_url": f"https://img.youtube.com/vi/fake{a.key}/maxresdefault.jpg"},
            },
            "approved": True,
            "titles": [{"type": "Default", "title": a.title}, {"type": "English", "title": a.title_english}],
            "title": a.title,
            "title_english": a.title_english,
            "title_japanese": a.title_japanese,
            "title_synonyms": list(a.synonyms),
            "type": "Movie" if movie else a.type,
            "source": a.source,
            "episodes": a.episodes_total if a.status == "FINISHED" else None,
            "status": "Finished Airing" if a.status == "FINISHED" else "Currently Airing",
            "airing": a.status == "ONGOING",
            "aired": {
                "from": f"{a.start}T00:00:00+00:00",
                "to": f"{a.end}T00:00:00+00:00" if a.end else None,
                "string": f"{a.start} to {a.end or '?'}",
            },
            "duration": f"{a.duration_min // 60} hr {a.duration_min % 60} min"
            if movie
            else f"{a.duration_min} min per ep",
            "rating": a.rating,
            "score": a.scores["mal"],
            "scored_by": 15_230,
            "rank": 812,
            "popularity": 2_044,
            "members": 61_877,
            "favorites": 903,
            "synopsis": f"{a.synopsis_mal}\n\n[Written by MAL Rewrite]",
            "background": f"{a.title_english} was announced at a fake convention.",
            "season": a.season.lower(),
            "year": a.year,
            "broadcast": {
                "day": day_time[0],
                "time": day_time[1],
                "timezone": "Asia/Tokyo" if a.broadcast else None,
                "string": f"{day_time[0]} at {day_time[1]} (JST)" if a.broadcast else None,
            },
            "producers": _named("producer", a.producers, 3000),
            "licensors": _named("producer", a.licensors, 4000),
            "studios": _named("producer", a.studios, 5000),
            "genres": _named("genre", a.genres, 1),
            "explicit_genres": [],
            "themes": _named("genre", a.themes, 50),
            "demographics": _named("genre", a.demographics, 40),
            "relations": [
                {
                    "relation": "Side Story",
                    "entry": [
                        {
                            "mal_id": 90003,
                            "type": "anime",
                            "name": "Chouchin Ressha",
                            "url": "https://myanimelist.net/anime/90003/Chouchin_Ressha",
                        }
                    ],
                },
                {
                    "relation": "Adaptation",
                    "entry": [
                        {
                            "mal_id": 1,
                            "type": "manga",
                            "name": "Hoshiakari",
                            "url": "https://myanimelist.net/manga/1",
                        }
                    ],
                },
            ]
            if a.key == "starlight"
            else [],
            "theme": {"openings": list(a.openings), "endings": list(a.endings)},
            "external": [{"name": "Official Site", "url": f"https://{a.key}.example.org/"}],
            "streaming": [{"name": s, "url": f"https://stream.example/{a.key}"} for s in a.licensors],
        }
    }


def _mal_name(p: FakePerson) -> str:
    return f"{p.family}, {p.given}"


def jikan_characters(a: FakeAnime) -> JsonDict:
    return {"data": [_jikan_character(c) for c in a.characters]}


def _jikan_character(c: FakeCharacter) -> JsonDict:
    p, v = c.person, c.voice
    return {
        "character": {
            "mal_id": p.mal_id,
            "url": f"https://myanimelist.net/character/{p.mal_id}/{p.given}_{p.family}",
            "images": {
                "jpg": {"image_url": f"https://cdn.myanimelist.net/images/characters/1/{p.mal_id}.jpg"}
            },
            "name": _mal_name(p),
        },
        "role": c.role,
        "favorites": 120,
        "voice_actors": [
            {
                "person": {
                    "mal_id": v.mal_id,
                    "url": f"https://myanimelist.net/people/{v.mal_id}",
                    "name": _mal_name(v),
                },
                "language": "Japanese",
            }
        ],
    }


def jikan_episode(a: FakeAnime, e: FakeEpisode, *, full: bool = False) -> JsonDict:
    item: JsonDict = {
        "mal_id": e.number,
        "url": f"https://myanimelist.net/anime/{a.mal_id}/{_slug(a.title)}/episode/{e.number}",
        "title": e.title,
        "title_japanese": e.title_japanese,
        "title_romanji": e.title_romaji,
        "aired": f"{jst_date(e)}T00:00:00+09:00",
        "filler": e.filler,
        "recap": False,
    }
    if full:
        item.update(duration=a.duration_min * 60, synopsis=e.synopsis)
    else:
        item.update(score=4.52, forum_url=None)
    return item


def jikan_episodes(a: FakeAnime, page: int, per_page: int) -> JsonDict:
    chunk = a.episodes[(page - 1) * per_page : page * per_page]
    last = max(1, -(-len(a.episodes) // per_page))
    return {
        "pagination": {"last_visible_page": last, "has_next_page": page < last},
        "data": [jikan_episode(a, e) for e in chunk],
    }


# --------------------------------------------------------------------------- Kitsu
def kitsu_resource(a: FakeAnime) -> JsonDict:
    return {
        "id": a.kitsu_id,
        "type": "anime",
        "links": {"self": f"https://kitsu.app/api/edge/anime/{a.kitsu_id}"},
        "attributes": {
            "slug": a.kitsu_slug or _slug(a.title).lower(),
            "synopsis": a.synopsis_kitsu,
            "description": a.synopsis_kitsu,
            "titles": {"en": a.title_english, "en_jp": a.title, "ja_jp": a.title_japanese},
            "canonicalTitle": a.title,
            "abbreviatedTitles": [a.title.split()[0]],
            "averageRating": f"{a.scores['kitsu']:.2f}",
            "userCount": 3_120,
            "favoritesCount": 45,
            "startDate": a.start,
            "endDate": a.end,
            "popularityRank": 4_101,
            "ratingRank": 2_950,
            "ageRating": "PG",
            "subtype": "movie" if a.type == "MOVIE" else a.type,
            "status": "finished" if a.status == "FINISHED" else "current",
            "posterImage": {
                "original": f"https://media.kitsu.app/anime/poster_images/{a.kitsu_id}/original.jpg"
            },
            "coverImage": {
                "original": f"https://media.kitsu.app/anime/cover_images/{a.kitsu_id}/original.jpg"
            },
            "episodeCount": a.episodes_total,
            "episodeLength": a.duration_min,
            "youtubeVideoId": f"fake{a.key}",
            "nsfw": False,
        },
        "relationships": {
            "categories": {
                "data": [{"type": "categories", "id": str(i)} for i, _ in enumerate(a.kitsu_categories, 1)]
            }
        },
    }


def kitsu_categories(a: FakeAnime) -> list[JsonDict]:
    return [
        {"id": str(i), "type": "categories", "attributes": {"title": t, "slug": t.lower().replace(" ", "-")}}
        for i, t in enumerate(a.kitsu_categories, 1)
    ]


def kitsu_episode(a: FakeAnime, e: FakeEpisode) -> JsonDict:
    return {
        "id": f"{a.kitsu_id}{e.number:03d}",
        "type": "episodes",
        "attributes": {
            "titles": {"en_us": e.title, "en_jp": e.title_romaji, "ja_jp": e.title_japanese},
            "canonicalTitle": e.title,
            "seasonNumber": 1,
            "number": e.number,
            "relativeNumber": e.number,
            "synopsis": f"Kitsu: {e.synopsis}" if e.synopsis else None,
            "airdate": jst_date(e),
            "length": a.duration_min,
            "thumbnail": {
                "original": f"https://media.kitsu.app/episodes/thumbnails/{a.kitsu_id}{e.number:03d}/original.jpg"
            },
        },
    }


# --------------------------------------------------------------------------- AnimeSchedule
def schedule_item(a: FakeAnime, *, decoy: bool = False) -> JsonDict:
    route = f"{a.schedule_route}-recap" if decoy else a.schedule_route
    websites = (
        {"mal": "myanimelist.net/anime/99999"}
        if decoy
        else {
            "mal": f"myanimelist.net/anime/{a.mal_id}",
            "aniList": f"anilist.co/anime/{a.anilist_id}",
            "official": f"https://{a.key}.example.org/",
        }
    )
    last = a.episodes[-1] if a.episodes else None
    return {
        "id": f"as{a.key}{'x' if decoy else ''}",
        "title": f"{a.title}{' Recap' if decoy else ''}",
        "route": route,
        "premier": f"{a.start}T00:00:00Z",
        "subPremier": "0001-01-01T00:00:00Z",
        "dubPremier": "0001-01-01T00:00:00Z",
        "month": a.start[5:7],
        "year": a.year,
        "jpnTime": last.aired_jst if last else "0001-01-01T00:00:00Z",
        "subTime": "0001-01-01T00:00:00Z",
        "dubTime": "0001-01-01T00:00:00Z",
        "delayedTimetable": False,
        "delayedFrom": "0001-01-01T00:00:00Z",
        "delayedUntil": "0001-01-01T00:00:00Z",
        "status": "Finished" if a.status == "FINISHED" else "Ongoing",
        "episodes": a.episodes_total,
        "lengthMin": a.duration_min,
        "imageVersionRoute": f"anime/jpg/default/{route}-4f2a.jpg",
        "stats": {"averageScore": a.scores.get("schedule", 0), "ratingCount": 121, "trackedCount": 955},
        "names": {"romaji": a.title, "english": a.title_english, "native": a.title_japanese, "synonyms": []},
        "websites": websites,
        **({} if decoy else a.schedule),
    }


def schedule_search(query: str, catalogue: Iterable[FakeAnime] = CATALOGUE.values()) -> JsonDict:
    """AnimeSchedule's title search over ``catalogue`` (a fake server's own anime)."""
    words = query.casefold()
    found = []
    for anime in catalogue:
        if anime.schedule_route and words in (anime.title.casefold() + " " + anime.title_english.casefold()):
            found += [schedule_item(anime, decoy=True), schedule_item(anime)]
    return {"page": 1, "totalAmount": len(found), "anime": found}
