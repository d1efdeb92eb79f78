"""The fake anime as AniList's GraphQL ``Media`` (see :mod:`.shapes` for the conventions)."""

from __future__ import annotations

from avs_enricher.testing.catalogue import DIRECTOR, WRITER, FakeAnime, FakePerson
from avs_enricher.testing.shapes import JsonDict, airing_at


def _date(text: str | None) -> JsonDict:
    if not text:
        return {"year": None, "month": None, "day": None}
    year, month, day = (int(x) for x in text.split("-"))
    return {"year": year, "month": month, "day": day}


def anilist_media(a: FakeAnime) -> JsonDict:
    def person(p: FakePerson) -> JsonDict:
        return {"id": p.anilist_id, "name": {"full": f"{p.given} {p.family}", "native": p.native}}

    return {
        "id": a.anilist_id,
        "idMal": a.mal_id,
        "siteUrl": f"https://anilist.co/anime/{a.anilist_id}",
        "title": {"romaji": a.title, "english": a.title_english, "native": a.title_japanese},
        "synonyms": [f"{a.title_english} (TV)"],
        "format": a.type if a.type != "MOVIE" else "MOVIE",
        "status": "FINISHED" if a.status == "FINISHED" else "RELEASING",
        "episodes": a.episodes_total,
        "duration": a.duration_min,
        "season": a.season,
        "seasonYear": a.year,
        "isAdult": False,
        "source": a.source.upper().replace(" ", "_"),
        "startDate": _date(a.start),
        "endDate": _date(a.end),
        "description": a.description_anilist,
        "genres": list(a.genres),
        "tags": [
            {"name": n, "description": d, "rank": 80, "isMediaSpoiler": False} for n, d in a.anilist_tags
        ]
        + [{"name": "Twist Ending", "description": "A spoiler.", "rank": 60, "isMediaSpoiler": True}],
        "averageScore": a.scores.get("anilist"),
        "popularity": 40_211,
        "favourites": 1_203,
        "coverImage": {
            "extraLarge": f"https://s4.anilist.co/file/anilistcdn/media/anime/cover/large/bx{a.anilist_id}.jpg",
            "large": f"https://s4.anilist.co/file/anilistcdn/media/anime/cover/medium/bx{a.anilist_id}.jpg",
        },
        "bannerImage": f"https://s4.anilist.co/file/anilistcdn/media/anime/banner/{a.anilist_id}.jpg",
        "trailer": {
            "id": f"fake{a.key}",
            "site": "youtube",
            "thumbnail": f"https://i.ytimg.com/vi/fake{a.key}/hq.jpg",
        },
        "studios": {
            "edges": [
                {
                    "isMain": True,
                    "node": {
                        "name": s,
                        "isAnimationStudio": True,
                        "siteUrl": f"https://anilist.co/studio/{i}",
                    },
                }
                for i, s in enumerate(a.studios, 1)
            ]
            + [
                {
                    "isMain": False,
                    "node": {
                        "name": p,
                        "isAnimationStudio": False,
                        "siteUrl": f"https://anilist.co/studio/{i}",
                    },
                }
                for i, p in enumerate(a.producers, 100)
            ]
        },
        "rankings": [
            {"rank": 512, "type": "RATED", "format": "TV", "year": None, "season": None, "allTime": True},
            {
                "rank": 14,
                "type": "POPULAR",
                "format": "TV",
                "year": a.year,
                "season": a.season,
                "allTime": False,
            },
        ],
        "airingSchedule": {"nodes": [{"episode": e.number, "airingAt": airing_at(e)} for e in a.episodes]},
        "characters": {
            "edges": [
                {
                    "role": c.role.upper(),
                    "node": {
                        **person(c.person),
                        "name": {
                            "full": f"{c.person.given} {c.person.family}",
                            "native": c.person.native,
                            "alternative": [c.person.given],
                        },
                        "image": {
                            "large": f"https://s4.anilist.co/file/anilistcdn/character/large/b{c.person.anilist_id}.png"
                        },
                        "description": f"__Role:__ {c.description}",
                        "gender": "Female" if c.person.given in {"Aoi", "Mio"} else "Male",
                        "age": "19",
                        "siteUrl": f"https://anilist.co/character/{c.person.anilist_id}",
                        "favourites": 88,
                    },
                    "voiceActors": [{**person(c.voice), "languageV2": "Japanese"}],
                }
                for c in a.characters
            ]
        },
        "staff": {
            "edges": [
                {
                    "role": "Director",
                    "node": {
                        **person(DIRECTOR),
                        "image": {"large": None},
                        "primaryOccupations": ["Director"],
                        "siteUrl": None,
                    },
                },
                {
                    "role": "Original Creator",
                    "node": {
                        **person(WRITER),
                        "image": {"large": None},
                        "primaryOccupations": ["Writer"],
                        "siteUrl": None,
                    },
                },
            ]
        },
        "relations": {
            "edges": [
                {
                    "relationType": "SIDE_STORY",
                    "node": {
                        "id": 190003,
                        "type": "ANIME",
                        "title": {"romaji": "Chouchin Ressha"},
                        "siteUrl": "https://anilist.co/anime/190003",
                    },
                },
                {
                    "relationType": "SOURCE",
                    "node": {
                        "id": 5,
                        "type": "MANGA",
                        "title": {"romaji": "Hoshiakari"},
                        "siteUrl": "https://anilist.co/manga/5",
                    },
                },
            ]
            if a.key == "starlight"
            else []
        },
        "externalLinks": [
            {"site": "Official Site", "url": f"https://{a.key}.example.org/", "type": "INFO"},
            *(
                {"site": s, "url": f"https://stream.example/{a.key}", "type": "STREAMING"}
                for s in a.licensors
            ),
        ],
    }
