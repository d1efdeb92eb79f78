"""A small synthetic ``anime`` collection and a reference evaluator for the congruence suite.

Vectors are seeded random (no embedding model); payloads mimic the real fields,
with deliberate ties (popularity, score) so ordering and pagination are tested
where engines differ, and three real titles with Japanese and romaji names for BM25.
"""

from __future__ import annotations

import contextlib
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from avs_shared.adapters.vector.sparse import Bm25Encoder
from avs_shared.ports.vector import (
    ORPHANED,
    SYSTEM_STATUS_FIELD,
    Clause,
    Condition,
    HasId,
    IsEmpty,
    JsonValue,
    Match,
    MatchAny,
    MatchText,
    Range,
    SearchFilter,
    StatusScope,
    VectorPoint,
)

DIM = 16
MODEL = "test-model-16d"
N_SYNTHETIC = 60

GENRES = ["Action", "Drama", "Comedy", "Fantasy", "Romance", "Sci-Fi"]
TYPES = ["TV", "MOVIE", "OVA", "ONA", "SPECIAL"]
STATUSES = ["FINISHED", "ONGOING", "UPCOMING"]
SEASONS = ["SPRING", "SUMMER", "FALL", "WINTER"]
RATINGS = ["G - All Ages", "PG-13 - Teens 13 or older", "R - 17+ (violence & profanity)"]
WORDS = ["Blue", "Crimson", "Silent", "Iron", "Star", "Paper"]
NOUNS = ["Garden", "Knight", "Ocean", "Machine", "Festival"]

NAMED = {
    "aot": ("Shingeki no Kyojin", "進撃の巨人", ["Attack on Titan", "AoT", "Shingeki no Kyoujin"]),
    "kny": ("Kimetsu no Yaiba", "鬼滅の刃", ["Demon Slayer"]),
    "chihiro": ("Sen to Chihiro no Kamikakushi", "千と千尋の神隠し", ["Spirited Away"]),
}


def anime_id(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://example.test/anime/{key}"))


def _unit(rng: np.random.Generator) -> list[float]:
    v = rng.normal(size=DIM)
    return [float(x) for x in v / np.linalg.norm(v)]


def build_points(seed: int = 7) -> list[VectorPoint]:
    rng = np.random.default_rng(seed)
    points: list[VectorPoint] = []
    keys = [f"syn-{i}" for i in range(N_SYNTHETIC)] + list(NAMED)
    for i, key in enumerate(keys):
        if key in NAMED:
            title, japanese, synonyms = NAMED[key]
            synonyms = [japanese, *synonyms]
        else:
            title = f"{WORDS[i % len(WORDS)]} {NOUNS[(i // 2) % len(NOUNS)]} {i}"
            synonyms = [f"{NOUNS[i % len(NOUNS)]} Saga"] if i % 3 == 0 else []
        payload: dict[str, JsonValue] = {
            "title": title,
            "synonyms": synonyms,
            "type": TYPES[i % len(TYPES)],
            "status": STATUSES[i % len(STATUSES)],
            "season": SEASONS[i % len(SEASONS)],
            "genres": sorted({GENRES[i % 6], GENRES[(i * 7 + 3) % 6]}),
            "tags": [f"tag-{i % 4}"],
            "studios": [] if i % 5 == 0 else [f"Studio {i % 3}"],
            "episodes": 1 + (i * 13) % 50,
            "score": round(5.0 + (i * 37 % 45) / 10.0, 1),
            "popularity": [100, 200, 300, 400, 500][i % 5] if i % 11 else 250.5,
            "nsfw": i % 7 == 0,
            "rating": RATINGS[i % len(RATINGS)],
            SYSTEM_STATUS_FIELD: ORPHANED if i % 13 == 5 else "ACTIVE",
        }
        if i % 9 != 4:  # some entries have no year
            payload["year"] = 1995 + (i * 7) % 30
        if i == 17:  # written before system_status existed: counts as active
            del payload[SYSTEM_STATUS_FIELD]
        points.append(
            VectorPoint(
                id=anime_id(key),
                vectors={"text": _unit(rng), "tags": _unit(rng)},
                payload=payload,
                sparse_texts={"bm25": [title, *synonyms]},
            )
        )
    return points


# ----------------------------------------------------------------------------- reference


def _values(payload: Mapping[str, JsonValue], field: str) -> list[JsonValue]:
    value = payload.get(field)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^0-9a-z]+", text.lower()) if w}


def _holds(c: Condition, pid: str, payload: Mapping[str, JsonValue]) -> bool:
    if isinstance(c, Match):
        return any(v == c.value and type(v) is type(c.value) for v in _values(payload, c.field))
    if isinstance(c, MatchAny):
        return any(v in list(c.values) for v in _values(payload, c.field))
    if isinstance(c, Range):
        nums = [
            v for v in _values(payload, c.field) if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        return any(
            (c.gte is None or v >= c.gte)
            and (c.gt is None or v > c.gt)
            and (c.lte is None or v <= c.lte)
            and (c.lt is None or v < c.lt)
            for v in nums
        )
    if isinstance(c, MatchText):
        wanted = _words(c.text)
        return any(isinstance(v, str) and wanted <= _words(v) for v in _values(payload, c.field))
    if isinstance(c, IsEmpty):
        return not _values(payload, c.field)
    if isinstance(c, HasId):
        return pid in c.ids
    return _clause_holds(c, pid, payload)


def _clause_holds(c: Clause, pid: str, payload: Mapping[str, JsonValue]) -> bool:
    return (
        all(_holds(x, pid, payload) for x in c.must)
        and (not c.should or any(_holds(x, pid, payload) for x in c.should))
        and not any(_holds(x, pid, payload) for x in c.must_not)
    )


def expected_ids(points: Sequence[VectorPoint], f: SearchFilter | None) -> set[str]:
    """Ids that ``f`` selects, computed in Python (the ground truth for both adapters)."""
    f = f or SearchFilter()
    clause = Clause(f.must, f.should, f.must_not)
    out = set()
    for p in points:
        orphaned = p.payload.get(SYSTEM_STATUS_FIELD) == ORPHANED
        if f.status is StatusScope.ACTIVE and orphaned:
            continue
        if f.status is StatusScope.ORPHANED and not orphaned:
            continue
        if _clause_holds(clause, p.id, p.payload):
            out.add(p.id)
    return out


def bm25_reference(points: Sequence[VectorPoint], query: str, encoder: Bm25Encoder) -> dict[str, float]:
    """BM25 scores as the engines should compute them with ``Modifier.IDF`` over live points."""
    docs = {p.id: encoder.encode_document(p.sparse_texts["bm25"]) for p in points}
    docs = {pid: d for pid, d in docs.items() if d.indices}
    n = len(docs)
    q = encoder.encode_query(query)
    scores: dict[str, float] = {}
    for pid, doc in docs.items():
        weights = dict(zip(doc.indices, doc.values, strict=True))
        total = 0.0
        for idx in q.indices:
            if idx in weights:
                df = sum(1 for d in docs.values() if idx in d.indices)
                total += math.log(1 + (n - df + 0.5) / (df + 0.5)) * weights[idx]
        if total > 0:
            scores[pid] = total
    return scores


def search_pool(pid: int | str = "self") -> list[str]:
    """The names of the Qdrant Edge search pool threads of process ``pid``."""
    tasks = Path(f"/proc/{pid}/task")
    names = []
    for task in tasks.iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            names.append((task / "comm").read_text().strip())
    return sorted(n for n in names if n.startswith("edge-search"))
