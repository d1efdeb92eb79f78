"""What the planners may filter on: the genres of the catalogue and the concepts people name.

A *concept* is what a person says ("mecha", "giant robots", "rom-com"); it resolves to
genres and/or one tag of the catalogue. The genres are a fixed list (MyAnimeList's, which
the enriched entries carry) merged with the ``genres`` facet of the index when that is
known, so a catalogue that also carries AniList's ``Mecha`` genre gets genre filters
instead of tag filters for the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from avs_shared.ports.vector import VectorIndex

log = structlog.get_logger(__name__)

#: Genres every catalogue built from MyAnimeList data knows.
KNOWN_GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Avant Garde",
    "Award Winning",
    "Boys Love",
    "Comedy",
    "Drama",
    "Ecchi",
    "Erotica",
    "Fantasy",
    "Girls Love",
    "Gourmet",
    "Hentai",
    "Horror",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Slice of Life",
    "Sports",
    "Supernatural",
    "Suspense",
)


@dataclass(frozen=True)
class Concept:
    """Something a query can ask for or exclude.

    Parameters
    ----------
    key:
        A stable name (used in tests and logs).
    genres:
        Genres it stands for (all of them: "rom-com" is Romance and Comedy).
    tags:
        Spellings of the one tag it stands for, preferred first; the first one the
        catalogue knows is used.
    genre_if_known:
        A genre used instead of the tag when the catalogue has it (AniList's "Mecha").
    phrases:
        Words that name the concept anywhere in a query.
    weak:
        Words that name it only right before a media noun ("robot anime", "scary
        movies") or after a negation: in a plot description ("a robot boy") they don't.
    """

    key: str
    phrases: tuple[str, ...]
    genres: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    genre_if_known: str | None = None
    weak: tuple[str, ...] = ()


CONCEPTS: tuple[Concept, ...] = (
    Concept("action", ("action", "action-packed"), genres=("Action",)),
    Concept("adventure", ("adventure", "adventures"), genres=("Adventure",)),
    Concept("avant garde", ("avant garde", "avant-garde", "experimental"), genres=("Avant Garde",)),
    Concept("award winning", ("award winning", "award-winning"), genres=("Award Winning",)),
    Concept(
        "boys love",
        ("boys love", "boys' love", "yaoi", "shounen ai", "shonen ai", "shounen-ai", "bl"),
        genres=("Boys Love",),
    ),
    Concept(
        "rom-com",
        ("rom-com", "rom-coms", "romcom", "romcoms", "rom com", "romantic comedy", "romantic comedies"),
        genres=("Romance", "Comedy"),
    ),
    Concept("comedy", ("comedy", "comedies", "comedic"), genres=("Comedy",), weak=("funny", "hilarious")),
    Concept("drama", ("drama", "dramas", "dramatic"), genres=("Drama",)),
    Concept("ecchi", ("ecchi", "fanservice", "fan service", "fan-service"), genres=("Ecchi",)),
    Concept("fantasy", ("fantasy",), genres=("Fantasy",)),
    Concept(
        "girls love",
        ("girls love", "girls' love", "yuri", "shoujo ai", "shojo ai", "shoujo-ai"),
        genres=("Girls Love",),
    ),
    Concept("gourmet", ("gourmet", "cooking"), genres=("Gourmet",), weak=("food",)),
    Concept("horror", ("horror",), genres=("Horror",), weak=("scary", "creepy", "spooky", "terrifying")),
    Concept("mystery", ("mystery", "mysteries", "whodunit", "whodunnit"), genres=("Mystery",)),
    Concept(
        "romance", ("romance", "romances", "romantic", "love story", "love stories"), genres=("Romance",)
    ),
    Concept(
        "sci-fi", ("sci-fi", "scifi", "sci fi", "science fiction", "science-fiction"), genres=("Sci-Fi",)
    ),
    Concept("slice of life", ("slice of life", "slice-of-life"), genres=("Slice of Life",)),
    Concept("sports", ("sports", "sport"), genres=("Sports",), weak=("athletic",)),
    Concept("supernatural", ("supernatural", "paranormal"), genres=("Supernatural",)),
    Concept("suspense", ("suspense", "suspenseful", "thriller", "thrillers"), genres=("Suspense",)),
    Concept("hentai", ("hentai",), genres=("Hentai",)),
    # Themes the catalogue keeps as tags.
    Concept(
        "mecha",
        ("mecha", "mechas", "mech", "mechs", "giant robot", "giant robots", "giant mecha"),
        tags=("mecha", "real robot", "super robot"),
        genre_if_known="Mecha",
        weak=("robot", "robots"),
    ),
    Concept(
        "isekai",
        ("isekai", "another world", "transported to another world", "reincarnated in another world"),
        tags=("isekai",),
    ),
    Concept(
        "magical girl",
        ("magical girl", "magical girls", "mahou shoujo", "mahou shojo"),
        tags=("magical girls", "magical girl", "mahou shoujo"),
        genre_if_known="Mahou Shoujo",
    ),
    Concept("cyberpunk", ("cyberpunk",), tags=("cyberpunk",)),
    Concept("steampunk", ("steampunk",), tags=("steampunk",)),
    Concept(
        "time travel",
        ("time travel", "time-travel", "time traveling", "time travelling"),
        tags=("time travel",),
    ),
    Concept("time loop", ("time loop", "time loops", "time-loop"), tags=("time loop",)),
    Concept("space opera", ("space opera", "space operas"), tags=("space opera",)),
    Concept(
        "post-apocalyptic",
        ("post-apocalyptic", "post apocalyptic", "postapocalyptic"),
        tags=("post-apocalyptic",),
    ),
    Concept("harem", ("harem",), tags=("harem",)),
    Concept("reverse harem", ("reverse harem",), tags=("reverse harem",)),
    Concept("vampire", ("vampire", "vampires"), tags=("vampires", "vampire")),
    Concept("idol", ("idol", "idols"), tags=("idol", "idols")),
    Concept("samurai", ("samurai",), tags=("samurai",)),
    Concept("martial arts", ("martial arts", "kung fu"), tags=("martial arts",)),
    Concept("death game", ("death game", "death games"), tags=("death game",)),
    Concept("virtual reality", ("virtual reality", "vrmmo"), tags=("virtual reality",)),
    Concept("school", ("school life",), tags=("high school", "school"), weak=("high school", "school")),
    Concept("military", (), tags=("military",), weak=("military", "war")),
)


@dataclass(frozen=True)
class Resolved:
    genres: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    #: Every spelling of the tag, for exclusions (excluding one spelling would leave the others).
    all_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    """The genres and tags the planners may use.

    ``genres`` are the catalogue's genre names (canonical case); ``tags`` are the tags
    the catalogue is known to use (empty when unknown: then each concept's first
    spelling is used).
    """

    genres: tuple[str, ...] = KNOWN_GENRES
    tags: frozenset[str] = field(default_factory=frozenset)
    concepts: tuple[Concept, ...] = CONCEPTS

    def canonical_genre(self, name: str) -> str | None:
        """The catalogue's spelling of ``name`` (case, spaces and dashes ignored), or None."""
        wanted = _fold(name)
        for genre in self.genres:
            if _fold(genre) == wanted:
                return genre
        return None

    def resolve(self, concept: Concept) -> Resolved:
        if concept.genre_if_known and concept.genre_if_known in self.genres:
            return Resolved(genres=(concept.genre_if_known,))
        if concept.tags:
            known = [t for t in concept.tags if t in self.tags]
            tag = known[0] if known else concept.tags[0]
            return Resolved(genres=concept.genres, tags=(tag,), all_tags=concept.tags)
        return Resolved(genres=concept.genres)

    def with_index_facets(self, genres: Iterable[str], tags: Iterable[str]) -> Vocabulary:
        merged = list(self.genres)
        folded = {_fold(g) for g in merged}
        for genre in genres:
            if genre and _fold(genre) not in folded:
                merged.append(genre)
                folded.add(_fold(genre))
        return Vocabulary(genres=tuple(merged), tags=frozenset(tags) | self.tags, concepts=self.concepts)


def _fold(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


async def vocabulary_from_index(index: VectorIndex, *, base: Vocabulary | None = None) -> Vocabulary:
    """The fixed vocabulary merged with the index's ``genres`` and ``tags`` facets.

    Best effort: an index that cannot answer leaves the fixed vocabulary (planning
    must not fail because facets are unavailable).
    """
    base = base or Vocabulary()
    try:
        genres = await index.facets("genres", limit=200)
        tags = await index.facets("tags", limit=5000)
    except Exception as exc:  # any failure: plan with the fixed list
        log.warning("vocabulary facets unavailable; using the fixed genre list", error=repr(exc))
        return base
    return base.with_index_facets(_strings(f.value for f in genres), _strings(f.value for f in tags))


def _strings(values: Iterable[object]) -> Sequence[str]:
    return [v for v in values if isinstance(v, str)]
