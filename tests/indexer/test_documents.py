"""How an entry becomes a point: its texts, payload, vectors and BM25 titles (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from avs_indexer.documents import entry_payload, entry_texts, entry_titles
from avs_indexer.indexing import BM25_VECTOR, TAGS_VECTOR, TEXT_VECTOR, build_point, embed_points
from avs_shared.adapters.embedding import HashingEmbedder
from avs_shared.schema import AnimeEntry

ID = "4f0c2a9e-8d7b-4c1e-9a3f-5b6d7e8f9a0b"


def entry(**changes: Any) -> AnimeEntry:
    doc: dict[str, Any] = {
        "id": ID,
        "title": "Shingeki no Kyojin",
        "title_english": "Attack on Titan",
        "title_japanese": "進撃の巨人",
        "synonyms": ["AoT", " Attack on Titan ", "", "SnK"],
        "type": "TV",
        "status": "FINISHED",
        "sources": ["https://myanimelist.net/anime/16498"],
        "episodes": 25,
        "year": 2013,
        "season": "SPRING",
        "rating": "R - 17+",
        "nsfw": False,
        "synopsis": "Humanity lives inside cities surrounded by enormous walls.",
        "background": "Adapted from Hajime Isayama's manga.",
        "genres": ["Action", "Drama"],
        "tags": ["titans", "military"],
        "themes": [{"name": "Gore"}, {"name": "Military", "description": "soldiers"}],
        "demographics": ["Shounen"],
        "characters": [
            {"name": "Eren Yeager", "role": "Main", "description": "A boy who swears revenge."},
            {"name": "Mikasa Ackerman", "role": "Main"},
        ],
        "staff_data": {
            "studios": [{"name": "Wit Studio", "type": "studio"}],
            "producers": [{"name": "Production I.G"}],
        },
        "statistics": {
            "mal": {"members": 4_000_000, "popularity_rank": 1},
            "anilist": {"score": 8.456789, "members": 900_000},
            "kitsu": {"score": 8.1, "members": 150_000},
        },
        "score": {"arithmetic_geometric_mean": 8.4, "arithmetic_mean": 8.41234, "median": 8.5},
        "images": {
            "covers": [{"image_url": "https://x.test/lost.jpg", "error_message": "404"}],
            "posters": ["https://cdn.test/images/poster.jpg"],
        },
    }
    doc.update(changes)
    return AnimeEntry.from_json_dict(doc)


def test_titles_are_every_title_and_synonym_once_in_order() -> None:
    assert entry_titles(entry()) == ["Shingeki no Kyojin", "Attack on Titan", "進撃の巨人", "AoT", "SnK"]
    assert entry_titles(entry(title_english=None, title_japanese=None, synonyms=[])) == ["Shingeki no Kyojin"]


def test_the_text_vector_describes_what_it_is_about() -> None:
    texts = entry_texts(entry())

    assert texts.text == (
        "Shingeki no Kyojin / Attack on Titan / 進撃の巨人 / AoT\n"
        "Humanity lives inside cities surrounded by enormous walls.\n"
        "Adapted from Hajime Isayama's manga."
    )


def test_the_tags_vector_describes_what_kind_of_show_it_is() -> None:
    texts = entry_texts(entry())

    assert texts.tags.splitlines() == [
        "Shingeki no Kyojin",
        "Type: TV",
        "Genres: Action, Drama",
        "Themes: Gore, Military",
        "Demographics: Shounen",
        "Tags: titans, military",
        "Characters: Eren Yeager: A boy who swears revenge.; Mikasa Ackerman",
    ]


def test_texts_leave_out_what_is_missing_and_are_capped() -> None:
    bare = entry_texts(
        entry(synopsis=None, background=None, genres=[], themes=[], demographics=[], tags=[], characters=[])
    )
    assert bare.text == "Shingeki no Kyojin / Attack on Titan / 進撃の巨人 / AoT"
    assert bare.tags == "Shingeki no Kyojin\nType: TV"

    characters = [{"name": f"Character {n}", "role": "Main", "description": "d" * 500} for n in range(20)]
    listed = entry_texts(entry(characters=characters)).tags
    assert "Character 7: " + "d" * 160 + "; Character 8" not in listed
    assert listed.endswith("Character 7: " + "d" * 160)  # eight characters, descriptions cut at 160

    tags = [f"tag{n:02d}-" + "x" * 20 for n in range(40)]
    huge = entry_texts(entry(synopsis="word " * 2000, tags=tags))
    assert len(huge.text) == 2000 and huge.text.endswith("word")
    assert "tag29-" in huge.tags and "tag30-" not in huge.tags  # at most 30 tags
    assert len(entry_texts(entry(synopsis="word " * 2000, tags=tags * 2, characters=characters)).tags) == 2000


def test_the_payload_holds_what_searches_filter_sort_and_show() -> None:
    payload = entry_payload(entry())

    assert payload == {
        "anime_id": ID,
        "title": "Shingeki no Kyojin",
        "title_english": "Attack on Titan",
        "title_japanese": "進撃の巨人",
        "synonyms": ["AoT", " Attack on Titan ", "", "SnK"],
        # every name as an exact-name query compares it: blank and repeated ones once
        "name_keys": ["aot", "attackontitan", "shingekinokyojin", "snk", "進撃の巨人"],
        "type": "TV",
        "status": "FINISHED",
        "year": 2013,
        "season": "SPRING",
        "genres": ["Action", "Drama"],
        "tags": ["titans", "military"],
        "studios": ["Wit Studio"],
        "episodes": 25,
        "score": 8.457,  # mal has no score: the next provider's, rounded
        "popularity": 4_000_000,  # the largest member count
        "system_status": "ACTIVE",
        "nsfw": False,
        "rating": "R - 17+",
        "image": "https://cdn.test/images/poster.jpg",  # the failed cover is skipped
    }


def test_name_keys_are_never_empty_and_keep_names_made_of_symbols() -> None:
    symbols = entry(title="∀ ++", title_english=None, title_japanese=None, synonyms=[])
    assert entry_payload(symbols)["name_keys"] == ["∀++"]
    nameless = entry(title="  ", title_english=None, title_japanese=None, synonyms=[])
    assert entry_payload(nameless)["name_keys"] == [""]  # no query matches it; the field is there


@pytest.mark.parametrize(
    ("statistics", "score", "expected_score", "expected_popularity"),
    [
        ({"kitsu": {"score": 7.0}, "mal": {"score": 9.1}}, None, 9.1, 0),
        (
            {"mal": {"members": 10}},
            {"arithmetic_geometric_mean": 6, "arithmetic_mean": 6.12345, "median": 6},
            6.123,
            10,
        ),
        ({}, None, None, 0),
    ],
    ids=["mal-first", "aggregate-score", "nothing"],
)
def test_score_and_popularity_fall_back(
    statistics: dict[str, Any],
    score: dict[str, float] | None,
    expected_score: float | None,
    expected_popularity: int,
) -> None:
    payload = entry_payload(entry(statistics=statistics, score=score))

    assert payload.get("score") == expected_score
    assert ("score" in payload) is (expected_score is not None)
    assert payload["popularity"] == expected_popularity


def test_an_orphaned_entry_says_so_and_empty_fields_are_left_out() -> None:
    payload = entry_payload(
        entry(
            system_status="ORPHANED",
            orphaned_at="2025-03-01T12:00:00Z",
            title_english=None,
            year=None,
            season=None,
            rating=None,
            nsfw=None,
            images={"covers": [{"image_url": "https://x.test/a.jpg", "error_message": "gone"}]},
        )
    )

    assert payload["system_status"] == "ORPHANED"
    assert payload["orphaned_at"] == "2025-03-01T12:00:00+00:00"
    assert payload["nsfw"] is False
    for absent in ("title_english", "year", "season", "rating", "image"):
        assert absent not in payload
    assert "orphaned_at" not in entry_payload(entry())


def test_a_point_has_named_dense_vectors_bm25_titles_and_the_payload() -> None:
    e = entry()
    point = build_point(e, [0.1, 0.2], [0.3, 0.4])

    assert point.id == ID
    assert dict(point.vectors) == {TEXT_VECTOR: [0.1, 0.2], TAGS_VECTOR: [0.3, 0.4]}
    assert (TEXT_VECTOR, TAGS_VECTOR, BM25_VECTOR) == ("text", "tags", "bm25")
    assert dict(point.sparse_texts) == {"bm25": entry_titles(e)}
    assert dict(point.sparse) == {}
    assert dict(point.payload) == entry_payload(e)


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls.append(len(texts))
        return await super().embed(texts)


async def test_points_embed_both_texts_of_a_batch_in_one_call() -> None:
    embedder = CountingEmbedder()
    entries = [
        entry(),
        entry(id="11111111-2222-4333-8444-555555555555", title="Kimetsu no Yaiba", synonyms=[]),
    ]

    points = await embed_points(embedder, entries)

    assert embedder.calls == [4]
    assert [p.id for p in points] == [e.id for e in entries]
    for e, point in zip(entries, points, strict=True):
        texts = entry_texts(e)
        expected = HashingEmbedder().embed_sync([texts.text, texts.tags])
        np.testing.assert_allclose(point.vectors[TEXT_VECTOR], expected[0], rtol=0, atol=1e-7)
        np.testing.assert_allclose(point.vectors[TAGS_VECTOR], expected[1], rtol=0, atol=1e-7)
        assert point.payload["title"] == e.title
    assert await embed_points(embedder, []) == [] and embedder.calls == [4]
