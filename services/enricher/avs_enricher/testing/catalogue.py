"""Three invented anime that the fake providers know, described once.

Hand-written (no real provider data): titles, people and texts are made up. Each anime
is told a little differently by each provider, as real providers do (the MAL synopsis is
not AniList's, AniList has exact airing times, AniDB only dates), so the assembly's
precedence rules have something to choose between. ``offline_record()`` is the record
the offline database would carry, i.e. what an ``anime-new`` event brings.

* ``starlight`` (*Starlight Courier*): a finished TV series known to all five providers.
* ``harbor`` (*Harbor Town Diaries*): airing now, Fridays 23:30 JST (Fridays 14:30 UTC);
  Kitsu knows it by slug, AnimeSchedule has its broadcast times and a delay.
* ``lantern`` (*Paper Lantern Express*): a film only MyAnimeList and Kitsu know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FakePerson:
    given: str
    family: str
    native: str
    mal_id: int
    anilist_id: int
    anidb_id: int


@dataclass(frozen=True)
class FakeCharacter:
    person: FakePerson
    role: str  # Main / Supporting
    description: str
    voice: FakePerson


@dataclass(frozen=True)
class FakeEpisode:
    number: int
    title: str
    title_japanese: str
    title_romaji: str
    aired_jst: str  # the Japanese broadcast, naive wall-clock time (YYYY-MM-DDTHH:MM:SS)
    synopsis: str | None = None
    filler: bool = False


@dataclass(frozen=True)
class FakeAnime:
    key: str
    title: str
    title_english: str
    title_japanese: str
    type: str
    status: str
    episodes_total: int
    season: str
    year: int
    start: str  # JST calendar date
    end: str | None
    duration_min: int
    mal_id: int | None
    anilist_id: int | None
    kitsu_id: str | None
    kitsu_slug: str | None
    anidb_id: int | None
    schedule_route: str | None
    synopsis_mal: str
    description_anilist: str
    synopsis_kitsu: str
    description_anidb: str
    rating: str
    source: str
    genres: tuple[str, ...]
    themes: tuple[str, ...]
    demographics: tuple[str, ...]
    anilist_tags: tuple[tuple[str, str], ...]
    kitsu_categories: tuple[str, ...]
    studios: tuple[str, ...]
    producers: tuple[str, ...]
    licensors: tuple[str, ...]
    broadcast: tuple[str, str] | None  # Jikan's (day, time) in Asia/Tokyo
    scores: dict[str, float]
    characters: tuple[FakeCharacter, ...] = ()
    episodes: tuple[FakeEpisode, ...] = ()
    openings: tuple[str, ...] = ()
    endings: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    offline_tags: tuple[str, ...] = ()
    schedule: dict[str, Any] = field(default_factory=dict)

    @property
    def picture(self) -> str:
        return f"https://cdn.myanimelist.net/images/anime/9/{self.mal_id or 0}l.jpg"

    def sources(self) -> list[str]:
        found = []
        if self.anidb_id:
            found.append(f"https://anidb.net/anime/{self.anidb_id}")
        if self.anilist_id:
            found.append(f"https://anilist.co/anime/{self.anilist_id}")
        if self.kitsu_id or self.kitsu_slug:
            found.append(f"https://kitsu.app/anime/{self.kitsu_slug or self.kitsu_id}")
        if self.mal_id:
            found.append(f"https://myanimelist.net/anime/{self.mal_id}")
        return found

    def offline_record(self) -> dict[str, Any]:
        """The anime-offline-database record (camelCase, nulls omitted)."""
        return {
            "sources": self.sources(),
            "title": self.title,
            "type": self.type,
            "episodes": self.episodes_total,
            "status": self.status,
            "animeSeason": {"season": self.season, "year": self.year},
            "picture": self.picture,
            "thumbnail": self.picture.replace("l.jpg", "t.jpg"),
            "duration": {"value": self.duration_min * 60, "unit": "SECONDS"},
            "score": {
                "arithmeticGeometricMean": self.scores["offline"],
                "arithmeticMean": self.scores["offline"] + 0.01,
                "median": self.scores["offline"],
            },
            "synonyms": list(self.synonyms),
            "studios": [s.lower() for s in self.studios],
            "producers": [p.lower() for p in self.producers],
            "relatedAnime": [],
            "tags": list(self.offline_tags),
        }


_AOI = FakePerson("Aoi", "Kisaragi", "如月 葵", 700001, 800001, 900001)
_REN = FakePerson("Ren", "Tachibana", "橘 蓮", 700002, 800002, 900002)
_MIO = FakePerson("Mio", "Hanazono", "花園 澪", 700003, 800003, 900003)
_VA1 = FakePerson("Sayaka", "Morino", "森野 さやか", 710001, 810001, 910001)
_VA2 = FakePerson("Kenta", "Ishikawa", "石川 健太", 710002, 810002, 910002)
_VA3 = FakePerson("Yui", "Asakura", "朝倉 結衣", 710003, 810003, 910003)
DIRECTOR = FakePerson("Daichi", "Horikawa", "堀川 大地", 720001, 820001, 920001)
WRITER = FakePerson("Nanami", "Sakurai", "桜井 七海", 720002, 820002, 920002)

STARLIGHT = FakeAnime(
    key="starlight",
    title="Hoshiakari Unsouya",
    title_english="Starlight Courier",
    title_japanese="星明かり運送屋",
    type="TV",
    status="FINISHED",
    episodes_total=3,
    season="SPRING",
    year=2021,
    start="2021-04-03",
    end="2021-04-17",
    duration_min=24,
    mal_id=90001,
    anilist_id=190001,
    kitsu_id="49001",
    kitsu_slug=None,
    anidb_id=19001,
    schedule_route="hoshiakari-unsouya",
    synopsis_mal="Aoi delivers parcels between floating islands on an old freight skiff. "
    "When a crate starts humming at night, her small courier company takes on more than cargo.",
    description_anilist="<i>Aoi</i> runs a courier skiff between the sky islands.<br><br>"
    "A humming crate changes everything. &lt;Source: fake&gt;",
    synopsis_kitsu="A sky-island courier finds a humming crate.",
    description_anidb="http://anidb.net/ch900001 [Aoi Kisaragi] flies parcels across the sky.",
    rating="PG-13 - Teens 13 or older",
    source="Light novel",
    genres=("Adventure", "Fantasy"),
    themes=("Workplace",),
    demographics=("Seinen",),
    anilist_tags=(
        ("Aviation", "Features aircraft or flight."),
        ("Found Family", "Characters form a family."),
    ),
    kitsu_categories=("Adventure", "Sky"),
    studios=("Studio Kumo",),
    producers=("Hikari Records",),
    licensors=("Sky Stream",),
    broadcast=("Saturdays", "01:30"),
    scores={"mal": 7.81, "anilist": 78, "kitsu": 76.4, "anidb": 7.62, "schedule": 80.5, "offline": 7.71},
    characters=(
        FakeCharacter(_AOI, "Main", "A stubborn courier pilot.", _VA1),
        FakeCharacter(_REN, "Supporting", "The company's mechanic.", _VA2),
    ),
    episodes=(
        FakeEpisode(
            1, "The Humming Crate", "歌う木箱", "Utau Kibako", "2021-04-03T01:30:00", "Aoi takes a job."
        ),
        FakeEpisode(2, "Crosswinds", "横風", "Yokokaze", "2021-04-10T01:30:00", filler=True),
        FakeEpisode(3, "Last Delivery", "最後の配達", "Saigo no Haitatsu", "2021-04-17T01:30:00"),
    ),
    openings=('1: "Skyline Parcel (スカイライン・パーセル)" by Hoshizora Band (eps 1-3)',),
    endings=('"Night Cargo" by Mio Lune',),
    synonyms=("Hoshiakari",),
    offline_tags=("adventure", "fantasy", "flying"),
    schedule={"delayedTimetable": False},
)

HARBOR = FakeAnime(
    key="harbor",
    title="Minatomachi Nikki",
    title_english="Harbor Town Diaries",
    title_japanese="港町日記",
    type="TV",
    status="ONGOING",
    episodes_total=12,
    season="WINTER",
    year=2024,
    start="2024-01-05",
    end=None,
    duration_min=23,
    mal_id=90002,
    anilist_id=190002,
    kitsu_id="49002",
    kitsu_slug="harbor-town-diaries",
    anidb_id=19002,
    schedule_route="minatomachi-nikki",
    synopsis_mal="Mio moves to a small harbor town and starts writing about its people.",
    description_anilist="Mio keeps a diary of a harbor town.",
    synopsis_kitsu="A diary of a harbor town.",
    description_anidb="A quiet harbor-town story.",
    rating="PG - Children",
    source="Original",
    genres=("Slice of Life",),
    themes=("Iyashikei",),
    demographics=(),
    anilist_tags=(("Iyashikei", "Soothing, healing stories."),),
    kitsu_categories=("Slice of Life",),
    studios=("Studio Nagi",),
    producers=(),
    licensors=(),
    broadcast=("Fridays", "23:30"),
    scores={"mal": 8.02, "anilist": 81, "kitsu": 80.0, "anidb": 7.9, "schedule": 83.0, "offline": 8.0},
    characters=(FakeCharacter(_MIO, "Main", "A new arrival who writes everything down.", _VA3),),
    episodes=(
        FakeEpisode(1, "Arrival", "到着", "Touchaku", "2024-01-05T23:30:00", "Mio arrives."),
        FakeEpisode(2, "The Lighthouse", "灯台", "Toudai", "2024-01-12T23:30:00"),
    ),
    synonyms=("Minato Diaries",),
    offline_tags=("slice of life", "iyashikei"),
    schedule={
        "jpnTime": "2024-01-19T23:30:00",
        "subTime": "2024-01-19T15:00:00Z",
        "dubTime": "0001-01-01T00:00:00Z",
        "premier": "2024-01-05",
        "subPremier": "2024-01-05",
        "dubPremier": "0001-01-01T00:00:00Z",
        "delayedTimetable": True,
        "delayedFrom": "2024-01-26",
        "delayedUntil": "2024-02-02",
        "delayDescription": "Broadcast paused for a sports event",
    },
)

LANTERN = FakeAnime(
    key="lantern",
    title="Chouchin Ressha",
    title_english="Paper Lantern Express",
    title_japanese="提灯列車",
    type="MOVIE",
    status="FINISHED",
    episodes_total=1,
    season="SUMMER",
    year=2019,
    start="2019-08-09",
    end="2019-08-09",
    duration_min=105,
    mal_id=90003,
    anilist_id=None,
    kitsu_id="49003",
    kitsu_slug=None,
    anidb_id=None,
    schedule_route=None,
    synopsis_mal="A night train lit by paper lanterns carries the souls of summer home.",
    description_anilist="",
    synopsis_kitsu="A lantern-lit night train.",
    description_anidb="",
    rating="G - All Ages",
    source="Original",
    genres=("Drama", "Supernatural"),
    themes=(),
    demographics=(),
    anilist_tags=(),
    kitsu_categories=("Drama",),
    studios=("Studio Akari",),
    producers=(),
    licensors=(),
    broadcast=None,
    scores={"mal": 7.4, "kitsu": 72.0, "offline": 7.3},
    offline_tags=("drama", "trains"),
)

CATALOGUE: dict[str, FakeAnime] = {a.key: a for a in (STARLIGHT, HARBOR, LANTERN)}
