"""Search quality on every labelled query: hybrid must beat each retriever alone.

Runs the 98 labelled queries of ``tests/fixtures/search_quality/queries.json``
through the service layer with the real model over the bootstrapped sample, in each
mode, and compares recall@10 (share of a query's relevant anime in the top 10) and
MRR (mean reciprocal rank of the first relevant anime, top 100). ``bench/search_quality``
prints the same numbers and the tuning alternatives; run pytest with ``-s`` to see
them here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from avs_api.search.params import SearchMode
from avs_api.search.service import ranked_hits
from avs_shared.ports.vector import SearchFilter

DEPTH = 100
TITLE_KINDS = ("title_english", "title_romaji", "synonym", "title_japanese")
Scores = dict[str, tuple[float, float]]  # kind (and "overall") -> (recall@10, MRR)


def score(queries: list[dict[str, Any]], rankings: list[list[str]]) -> Scores:
    per_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for query, ranked in zip(queries, rankings, strict=True):
        relevant = set(query["relevant"])
        recall = len(relevant.intersection(ranked[:10])) / len(relevant)
        rr = next((1.0 / (i + 1) for i, pid in enumerate(ranked) if pid in relevant), 0.0)
        for kind in (query["kind"], "overall"):
            per_kind[kind].append((recall, rr))
    return {k: (sum(r for r, _ in v) / len(v), sum(m for _, m in v) / len(v)) for k, v in per_kind.items()}


@pytest.fixture(scope="module")
async def quality(search_api: Any, labelled_queries: list[dict[str, Any]]) -> dict[SearchMode, Scores]:
    index = await search_api.resources.ready_index()
    results: dict[SearchMode, Scores] = {}
    for mode in SearchMode:
        rankings = []
        for query in labelled_queries:
            hits = await ranked_hits(
                search_api.resources, index, query["query"], SearchFilter(), mode=mode, limit=DEPTH
            )
            rankings.append([h.id for h in hits])
        results[mode] = score(labelled_queries, rankings)
    kinds = sorted(results[SearchMode.HYBRID], key=lambda k: (k == "overall", k))
    print("\nrecall@10 / MRR over", len(labelled_queries), "labelled queries")
    print(f"{'':8}" + "".join(f"{k:>18}" for k in kinds))
    for mode, scores in results.items():
        print(f"{mode.value:8}" + "".join(f"{scores[k][0]:>10.3f}/{scores[k][1]:<7.3f}" for k in kinds))
    return results


def test_the_labelled_set_covers_every_kind(labelled_queries: list[dict[str, Any]]) -> None:
    kinds = {q["kind"] for q in labelled_queries}
    assert len(labelled_queries) == 98
    assert kinds == {*TITLE_KINDS, "plot", "genre_era", "like"}


def test_hybrid_recall_at_10_is_at_least_each_retriever_alone(quality: dict[SearchMode, Scores]) -> None:
    hybrid = quality[SearchMode.HYBRID]["overall"][0]
    assert hybrid >= quality[SearchMode.DENSE]["overall"][0]
    assert hybrid >= quality[SearchMode.BM25]["overall"][0]


def test_hybrid_mrr_is_at_least_each_retriever_alone(quality: dict[SearchMode, Scores]) -> None:
    hybrid = quality[SearchMode.HYBRID]["overall"][1]
    assert hybrid >= quality[SearchMode.DENSE]["overall"][1]
    assert hybrid >= quality[SearchMode.BM25]["overall"][1]


@pytest.mark.parametrize("kind", TITLE_KINDS)
def test_hybrid_ranks_every_title_query_first(quality: dict[SearchMode, Scores], kind: str) -> None:
    assert quality[SearchMode.HYBRID][kind] == (1.0, 1.0)


def test_hybrid_finds_every_plot_description_in_the_top_10(quality: dict[SearchMode, Scores]) -> None:
    assert quality[SearchMode.HYBRID]["plot"][0] == 1.0
