"""Benchmark: search quality of ``/search/semantic`` on the labelled sample queries.

Loads the 64-anime sample into a fresh Qdrant Edge shard with the real MiniLM model,
then runs every labelled query of ``tests/fixtures/search_quality/queries.json``
through the service layer (``avs_api.search.service``) and prints recall@10 and MRR,
per query kind and overall, for dense-only, BM25-only and hybrid search. A second
table compares hybrid variants (which dense vectors, RRF k, exact-title pinning), and
a third the choices for "similar to X" on the ``like`` queries.

    python -m bench.search_quality

recall@10 = share of a query's relevant anime in the top 10 (averaged over queries);
MRR = mean of 1 / rank of the first relevant anime (0 if none in the top 100).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from avs_api.bootstrap import ApiResources, open_resources
from avs_api.search import service
from avs_api.search.params import SearchFilters, SearchMode
from avs_api.settings import ApiSettings
from avs_indexer.bootstrap import sample_path
from avs_indexer.indexing import embed_points
from avs_shared.adapters.embedding import MiniLMEmbedder
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.embedded.processes import free_port
from avs_shared.ports.vector import TAGS_VECTOR, TEXT_VECTOR, SearchFilter
from avs_shared.schema import AnimeEntry

REPO = Path(__file__).resolve().parents[1]
QUERIES = REPO / "tests" / "fixtures" / "search_quality" / "queries.json"
K = 10
DEPTH = 100
KINDS = ("title_english", "title_romaji", "synonym", "title_japanese", "plot", "genre_era", "like")


@dataclass(frozen=True)
class Query:
    text: str
    kind: str
    relevant: frozenset[str]


@dataclass(frozen=True)
class Score:
    recall: float
    mrr: float
    n: int


def load_queries(path: Path = QUERIES) -> list[Query]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Query(q["query"], q["kind"], frozenset(q["relevant"])) for q in data]


def sample_entries() -> list[AnimeEntry]:
    data = json.loads(Path(sample_path()).read_text(encoding="utf-8"))["data"]
    return [AnimeEntry.from_json_dict(d) for d in data]


def recall_at(ranked: Sequence[str], relevant: frozenset[str], k: int = K) -> float:
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevant: frozenset[str]) -> float:
    return next((1.0 / (i + 1) for i, pid in enumerate(ranked) if pid in relevant), 0.0)


def summarise(rows: Sequence[tuple[Query, list[str]]]) -> dict[str, Score]:
    """Mean recall@10 and MRR per kind, and ``overall`` (every query weighs the same)."""
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for query, ranked in rows:
        pair = (recall_at(ranked, query.relevant), reciprocal_rank(ranked, query.relevant))
        groups[query.kind].append(pair)
        groups["overall"].append(pair)
    return {
        kind: Score(sum(r for r, _ in v) / len(v), sum(m for _, m in v) / len(v), len(v))
        for kind, v in groups.items()
    }


async def rank_all(
    resources: ApiResources,
    queries: Sequence[Query],
    mode: SearchMode,
    tuning: service.HybridTuning = service.HYBRID,
) -> list[tuple[Query, list[str]]]:
    index = await resources.ready_index()
    rows = []
    for query in queries:
        hits = await service.ranked_hits(
            resources, index, query.text, SearchFilter(), mode=mode, limit=DEPTH, tuning=tuning
        )
        rows.append((query, [h.id for h in hits]))
    return rows


@contextlib.asynccontextmanager
async def sample_resources(root: Path, embedder: MiniLMEmbedder | None = None) -> AsyncIterator[ApiResources]:
    """API resources over a fresh edge shard in ``root`` holding the 64-anime sample."""
    model = embedder or MiniLMEmbedder(root)
    index = EdgeVectorIndex(root / "qdrant-edge" / "anime")
    await index.ensure_collection(model.model_name, model.dimension)
    entries = await asyncio.to_thread(sample_entries)
    await index.upsert(await embed_points(model, entries))
    await index.optimize()
    # Redis is never reached by the search service; a closed port keeps this self-contained.
    settings = ApiSettings(data_dir=root, redis_url=f"redis://127.0.0.1:{free_port()}/0", log_level="WARNING")
    try:
        async with open_resources(settings, index=index, embedder=model) as resources:
            yield resources
    finally:
        await index.close()
        if embedder is None:
            model.close()


def _table(title: str, results: dict[str, dict[str, Score]]) -> str:
    kinds = [k for k in (*KINDS, "overall") if any(k in r for r in results.values())]
    width = max(len(name) for name in results) + 2
    lines = [title, " " * width + "".join(f"{k[:14]:>16}" for k in kinds)]
    for name, scores in results.items():
        cells = "".join(
            f"{scores[k].recall:>8.3f}/{scores[k].mrr:<7.3f}" if k in scores else " " * 16 for k in kinds
        )
        lines.append(f"{name:<{width}}{cells}")
    counts = next(iter(results.values()))
    lines.append(" " * width + "".join(f"{'n=' + str(counts[k].n):>16}" for k in kinds if k in counts))
    lines.append("(each cell: recall@10 / MRR)")
    return "\n".join(lines)


def _describe(tuning: service.HybridTuning) -> str:
    lists = "+".join(tuning.dense_vectors)
    return f"{lists}+bm25 k={tuning.rrf_k}" + (" pin" if tuning.pin_exact_titles else "")


def _anchor_title(text: str) -> str:
    match = re.search(r"(?:like|similar to)\s+(.+)$", text, flags=re.IGNORECASE)
    return match.group(1).strip() if match else text


async def similar_rows(
    resources: ApiResources, queries: Sequence[Query], vectors: tuple[str, ...]
) -> list[tuple[Query, list[str]]]:
    """``like`` queries answered by similar_to(anchor): the anchor is the exact-title hit of the name."""
    index = await resources.ready_index()
    rows = []
    for query in queries:
        name = _anchor_title(query.text)
        hits = await service.ranked_hits(
            resources, index, name, SearchFilter(), mode=SearchMode.HYBRID, limit=1
        )
        result = await service.similar_to(
            resources, hits[0].id, SearchFilters(), limit=DEPTH, vectors=vectors
        )
        rows.append((query, [item.anime_id for item in result.items]))
    return rows


async def evaluate(resources: ApiResources, queries: Sequence[Query]) -> dict[str, dict[str, Score]]:
    """The three modes as the service runs them: dense-only, BM25-only and hybrid."""
    return {
        "dense": summarise(await rank_all(resources, queries, SearchMode.DENSE)),
        "bm25": summarise(await rank_all(resources, queries, SearchMode.BM25)),
        "hybrid": summarise(await rank_all(resources, queries, SearchMode.HYBRID)),
    }


async def main() -> None:
    queries = load_queries()
    with tempfile.TemporaryDirectory(prefix="avs-bench-quality-") as tmp:
        started = time.perf_counter()
        async with sample_resources(Path(tmp)) as resources:
            elapsed = time.perf_counter() - started
            print(f"loaded the sample in {elapsed:.1f}s; {len(queries)} labelled queries\n")
            print(_table("modes as served", await evaluate(resources, queries)))

            base = service.HYBRID
            variants = {
                f"served: {_describe(base)}": base,
                "same, no title pin": replace(base, pin_exact_titles=False),
                "dense text only + bm25": replace(base, dense_vectors=(TEXT_VECTOR,)),
                "dense tags only + bm25": replace(base, dense_vectors=(TAGS_VECTOR,)),
            }
            for k in (1, 2, 10, 30, 60):
                if k != base.rrf_k:
                    variants[f"rrf k={k}"] = replace(base, rrf_k=k)
            variants["dense text only + bm25, k=60"] = replace(base, dense_vectors=(TEXT_VECTOR,), rrf_k=60)
            variant_scores = {
                name: summarise(await rank_all(resources, queries, SearchMode.HYBRID, tuning))
                for name, tuning in variants.items()
            }
            print()
            print(
                _table(
                    "hybrid variants (candidates do not matter on 64 points: every list holds them all)",
                    variant_scores,
                )
            )

            like = [q for q in queries if q.kind == "like"]
            similar = {
                "tags": summarise(await similar_rows(resources, like, (TAGS_VECTOR,))),
                "text": summarise(await similar_rows(resources, like, (TEXT_VECTOR,))),
                "tags+text RRF (served)": summarise(
                    await similar_rows(resources, like, (TAGS_VECTOR, TEXT_VECTOR))
                ),
            }
            print()
            print(_table("similar_to(anchor of a `like` query)", similar))


def run() -> None:
    asyncio.run(main())


if __name__ == "__main__":
    run()
