"""The BM25 tokenizer and encoder: pure functions, pinned so stored vectors stay valid."""

from __future__ import annotations

import pytest

from avs_shared.adapters.vector.sparse import Bm25Encoder, token_index, tokenize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Shingeki no Kyojin", ["shingeki", "no", "kyojin"]),
        ("Shingeki no Kyōjin!", ["shingeki", "no", "kyojin"]),
        ("Kaguya-sama: Love is War", ["kaguya", "sama", "love", "is", "war"]),
        ("JoJo's Bizarre Adventure", ["jojo", "s", "bizarre", "adventure"]),
        ("Pokémon", ["pokemon"]),
        ("Ｆｕｌｌ　ｗｉｄｔｈ ＲＥ：ＺＥＲＯ", ["full", "width", "re", "zero"]),
        ("Mob Psycho 100", ["mob", "psycho", "100"]),
        ("進撃の巨人", ["進", "撃", "の", "巨", "人", "進撃", "撃の", "の巨", "巨人"]),
        ("ワン・ピース", ["ワ", "ン", "ワン", "ピ", "ー", "ス", "ピー", "ース"]),
        ("ｶﾞﾝﾀﾞﾑ", ["ガ", "ン", "ダ", "ム", "ガン", "ンダ", "ダム"]),  # half-width kana, voicing kept
        (
            "ONE PIECE ワンピース",
            ["one", "piece", "ワ", "ン", "ピ", "ー", "ス", "ワン", "ンピ", "ピー", "ース"],
        ),
        ("「0」", ["0"]),
        ("!!!", []),
    ],
)
def test_tokenize(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_kana_voicing_marks_are_not_stripped() -> None:
    assert tokenize("が") != tokenize("か")


def test_token_indices_are_pinned() -> None:
    # Changing these silently would orphan every stored sparse vector.
    assert token_index("kyojin") == token_index("kyojin") == 519_798_106
    assert token_index("巨人") == 2_477_946_548
    assert 0 <= token_index("x") < 2**32


def test_document_weights_saturate_term_frequency() -> None:
    enc = Bm25Encoder(k1=1.2, b=0.75, avg_len=4)
    doc = enc.encode_document(["a b", "a"])  # 3 tokens, tf(a)=2, tf(b)=1
    weights = dict(zip(doc.indices, doc.values, strict=True))
    norm = 1.2 * (1 - 0.75 + 0.75 * 3 / 4)
    assert weights[token_index("a")] == pytest.approx(2 * 2.2 / (2 + norm))
    assert weights[token_index("b")] == pytest.approx(1 * 2.2 / (1 + norm))
    assert doc.indices == sorted(doc.indices)


def test_bigrams_do_not_cross_separate_texts() -> None:
    doc = Bm25Encoder().encode_document(["進", "撃"])
    assert token_index("進撃") not in doc.indices


def test_query_weights_are_one_per_unique_token() -> None:
    q = Bm25Encoder().encode_query("no no Kyojin")
    assert sorted(q.indices) == sorted({token_index("no"), token_index("kyojin")})
    assert q.values == [1.0, 1.0]


def test_identity_names_the_parameters_and_invalid_ones_fail() -> None:
    assert Bm25Encoder().identity == "avs-bm25-v1;k1=1.2;b=0.75;avg_len=60"
    with pytest.raises(ValueError):
        Bm25Encoder(b=1.5)
