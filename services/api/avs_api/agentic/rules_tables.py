"""The phrase tables of the rule planner (the concepts themselves are in ``vocabulary``).

Phrases are lower case; a space matches any run of spaces or dashes, so "long running"
also reads "long-running".
"""

from __future__ import annotations

from avs_api.search.params import Sort, SortOrder
from avs_shared.schema.common import AnimeStatus, AnimeType

#: Nouns that say "a work": after a weak concept word they make it count ("robot anime").
MEDIA_NOUNS: tuple[str, ...] = (
    "anime",
    "animes",
    "animé",
    "show",
    "shows",
    "series",
    "movie",
    "movies",
    "film",
    "films",
    "cartoon",
    "cartoons",
    "ova",
    "ovas",
    "titles",
    "stuff",
    "ones",
    "manga adaptations",
)

TYPES: tuple[tuple[AnimeType, tuple[str, ...]], ...] = (
    (
        AnimeType.MOVIE,
        ("feature films", "feature film", "feature length", "movies", "movie", "films", "film"),
    ),
    (
        AnimeType.TV,
        ("tv series", "tv shows", "tv show", "tv anime", "television series", "television", "tv"),
    ),
    (AnimeType.OVA, ("original video animations", "original video animation", "ovas", "ova", "oavs", "oav")),
    (
        AnimeType.ONA,
        ("original net animations", "original net animation", "web series", "web anime", "onas", "ona"),
    ),
    (AnimeType.SPECIAL, ("tv specials", "tv special", "specials")),
    (AnimeType.MUSIC, ("music videos", "music video")),
)

#: Types a negated type ("no movies") leaves in place of the one excluded.
LISTED_TYPES: tuple[AnimeType, ...] = (
    AnimeType.TV,
    AnimeType.MOVIE,
    AnimeType.OVA,
    AnimeType.ONA,
    AnimeType.SPECIAL,
)

STATUSES: tuple[tuple[tuple[AnimeStatus, ...], tuple[str, ...]], ...] = (
    (
        (AnimeStatus.UPCOMING,),
        (
            "not yet aired",
            "not aired yet",
            "not yet released",
            "not released yet",
            "yet to air",
            "upcoming",
            "unreleased",
            "coming soon",
            "announced",
        ),
    ),
    (
        (AnimeStatus.ONGOING,),
        (
            "currently airing",
            "airing now",
            "now airing",
            "still airing",
            "still running",
            "not finished",
            "unfinished",
            "on going",
            "ongoing",
            "airing",
            "simulcasts",
            "simulcast",
        ),
    ),
    (
        (AnimeStatus.FINISHED,),
        (
            "finished airing",
            "done airing",
            "already aired",
            "finished",
            "completed",
            "complete",
            "concluded",
            "ended",
        ),
    ),
)

#: Sort hints; the first one found in the query wins. ``None`` order: the sort's default.
SORTS: tuple[tuple[Sort, SortOrder | None, tuple[str, ...]], ...] = (
    (Sort.SCORE, SortOrder.ASC, ("lowest rated", "worst rated", "worst")),
    (
        Sort.SCORE,
        None,
        (
            "top rated",
            "highest rated",
            "best rated",
            "highly rated",
            "well rated",
            "best reviewed",
            "critically acclaimed",
            "acclaimed",
            "must watch",
            "must see",
            "masterpieces",
            "masterpiece",
            "greatest",
            "best",
            "top",
        ),
    ),
    (
        Sort.POPULARITY,
        SortOrder.ASC,
        ("hidden gems", "hidden gem", "underrated", "lesser known", "little known", "obscure"),
    ),
    (
        Sort.POPULARITY,
        None,
        ("most popular", "most watched", "popular", "famous", "well known", "mainstream", "trending"),
    ),
    (Sort.YEAR, SortOrder.ASC, ("oldest", "earliest")),
    (
        Sort.YEAR,
        None,
        (
            "most recent",
            "recently released",
            "recently aired",
            "new releases",
            "brand new",
            "newest",
            "latest",
            "recent",
        ),
    ),
    (Sort.TITLE, SortOrder.DESC, ("z to a", "z-a")),
    (Sort.TITLE, None, ("alphabetically", "alphabetical", "a to z", "a-z")),
)

#: (canonical studio name, phrases that name it anywhere, phrases that need "studio"/"by"/"from").
STUDIOS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Studio Ghibli", ("studio ghibli", "ghibli"), ()),
    ("Kyoto Animation", ("kyoto animation", "kyoani", "kyo ani"), ()),
    ("Madhouse", ("madhouse",), ()),
    ("MAPPA", ("mappa",), ()),
    ("Bones", (), ("bones",)),
    ("Sunrise", (), ("sunrise",)),
    ("Wit Studio", ("wit studio",), ("wit",)),
    ("Production I.G", ("production i.g.", "production i.g", "production ig"), ()),
    ("Trigger", ("studio trigger",), ("trigger",)),
    ("Shaft", (), ("shaft",)),
    ("Toei Animation", ("toei animation", "toei"), ()),
    ("ufotable", ("ufotable",), ()),
    ("CloverWorks", ("cloverworks", "clover works"), ()),
    ("A-1 Pictures", ("a-1 pictures", "a1 pictures"), ()),
    ("Gainax", ("gainax",), ()),
    ("Science SARU", ("science saru",), ()),
    ("CoMix Wave Films", ("comix wave films", "comix wave"), ()),
    ("Studio Pierrot", ("studio pierrot", "pierrot"), ()),
    ("J.C.Staff", ("j.c.staff", "j.c. staff", "jc staff"), ()),
    ("White Fox", ("white fox",), ()),
    ("Tokyo Movie Shinsha", ("tokyo movie shinsha", "tms entertainment"), ()),
    ("Tatsunoko Production", ("tatsunoko production", "tatsunoko"), ()),
    ("OLM", (), ("olm",)),
    ("P.A. Works", ("p.a. works", "p.a.works", "pa works"), ()),
    ("David Production", ("david production",), ()),
    ("Kinema Citrus", ("kinema citrus",), ()),
    ("Orange", (), ("orange",)),
    ("Satelight", ("satelight",), ()),
    ("Lerche", ("lerche",), ()),
    ("Silver Link", ("silver link",), ()),
    ("Doga Kobo", ("doga kobo", "dogakobo"), ()),
    ("Studio Deen", ("studio deen",), ("deen",)),
    ("Shin-Ei Animation", ("shin-ei animation", "shin ei animation"), ()),
    ("Manglobe", ("manglobe",), ()),
)

#: Words that ask for safe results (``nsfw=false``) or only adult ones (``nsfw=true``).
SAFE_PHRASES: tuple[str, ...] = (
    "not nsfw",
    "no nsfw",
    "non nsfw",
    "without nsfw",
    "safe for work",
    "sfw",
    "family friendly",
    "kid friendly",
    "kids friendly",
    "child friendly",
    "for kids",
    "for children",
    "for the whole family",
    "all ages",
)
ADULT_PHRASES: tuple[str, ...] = ("nsfw", "adults only", "adult only", "18+")

NUMBER_WORDS: dict[str, int] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "twenty-four": 24,
    "twenty four": 24,
    "twenty-five": 25,
    "twenty five": 25,
    "twenty-six": 26,
    "twenty six": 26,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "a hundred": 100,
    "one hundred": 100,
    "hundred": 100,
}

DECADE_WORDS: dict[str, int] = {
    "fifties": 1950,
    "sixties": 1960,
    "seventies": 1970,
    "eighties": 1980,
    "nineties": 1990,
    "noughties": 2000,
    "two thousands": 2000,
    "twenty tens": 2010,
    "twenty twenties": 2020,
}

#: Words dropped from what is left of a query once filters were taken out of it.
STOP_WORDS: frozenset[str] = frozenset(
    """
    a an the some any all every this that these those such other others another
    i im i'm me my we us our you
    want wanna need needs looking look searching search find show give recommend
    recommendation recommendations suggest suggestion suggestions please pls can could would
    should will help list get watch watching see like liked enjoy enjoyed similar same
    something anything stuff thing things one ones kind kinds type types genre genres
    anime animes animé shows series title titles cartoon cartoons episode episodes ep eps
    season seasons year years
    and or but nor with from in of to for on at by as into about than then
    that which who whose is are was were be been being it its there where when
    so very really too also just only more most less much many
    good great nice cool awesome decent fun
    released aired made came out set having has have had do does did
    not no without what whats what's how isn't aren't isnt arent don't dont doesn't
    """.split()
)
