"""Synthetic database files: the enriched database and the offline database, streamed.

Both writers stream (one record in memory at a time) and return a :class:`WrittenFile`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

from avs_indexer.synthetic_core import check_count
from avs_indexer.synthetic_entries import generate_entries

DEFAULT_LAST_UPDATE = "2025-08-01"
OFFLINE_REPOSITORY = "https://github.com/manami-project/anime-offline-database"
OFFLINE_LICENSE = {
    "name": "Open Data Commons Open Database License (ODbL) v1.0 + Database Contents License (DbCL) v1.0",
    "url": f"{OFFLINE_REPOSITORY}/blob/master/LICENSE",
}
_SCHEMA_URL = "https://raw.githubusercontent.com/manami-project/anime-offline-database/master/schemas/"


class WrittenFile(NamedTuple):
    """What a writer produced."""

    path: Path
    records: int
    size_bytes: int


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def write_enriched_file(
    path: str | Path,
    count: int,
    *,
    seed: int = 0,
    source_commit_sha: str | None = None,
    last_update: str = DEFAULT_LAST_UPDATE,
) -> WrittenFile:
    """Write ``generate_entries(count, seed=seed)`` as an enriched database file, streaming.

    Root ``{license, repository, lastUpdate, enrichmentInfo, data}``, one entry per
    line. ``source_commit_sha`` (the offline-database commit the data stands for)
    goes to ``enrichmentInfo.sourceCommitSha``.
    """
    check_count(count)
    info: dict[str, Any] = {
        "totalAnime": count,
        "enrichmentVersion": "1.0.0",
        "sources": ["mal", "anilist", "kitsu", "animeplanet", "animeschedule", "anidb"],
        "description": f"Synthetic enriched anime database (seed {seed})",
        "lastEnrichment": last_update,
    }
    if source_commit_sha is not None:
        info["sourceCommitSha"] = source_commit_sha
    head = {
        "license": {"name": "CC0-1.0 (synthetic test data)", "url": "https://example-anime.test/LICENSE"},
        "repository": "https://example-anime.test/synthetic-anime-database",
        "lastUpdate": last_update,
        "enrichmentInfo": info,
    }
    target = Path(path)
    with target.open("w", encoding="utf-8") as out:
        out.write(_dumps(head)[:-1] + ',"data":[')
        for n, entry in enumerate(generate_entries(count, seed=seed)):
            out.write(",\n" if n else "\n")
            out.write(_dumps(entry))
        out.write("\n]}\n")
    return WrittenFile(target, count, target.stat().st_size)


def write_offline_file(
    path: str | Path,
    records: Iterable[Mapping[str, Any]],
    fmt: Literal["json", "jsonl"] = "json",
    *,
    last_update: str = DEFAULT_LAST_UPDATE,
) -> WrittenFile:
    """Write offline-database records in the source's shapes, streaming.

    ``json``: the minified root ``{$schema, license, repository, scoreRange, lastUpdate,
    data}`` on one line. ``jsonl``: line 1 is that root without ``data``, then one
    record per line.
    """
    if fmt not in ("json", "jsonl"):
        raise ValueError(f"fmt must be 'json' or 'jsonl', got {fmt!r}")
    schema = "anime-offline-database-minified" if fmt == "json" else "anime-offline-database.jsonl"
    head = {
        "$schema": f"{_SCHEMA_URL}{schema}.schema.json",
        "license": OFFLINE_LICENSE,
        "repository": OFFLINE_REPOSITORY,
        "scoreRange": {"minInclusive": 1.0, "maxInclusive": 10.0},
        "lastUpdate": last_update,
    }
    target = Path(path)
    written = 0
    with target.open("w", encoding="utf-8") as out:
        out.write(_dumps(head)[:-1] + ',"data":[' if fmt == "json" else _dumps(head) + "\n")
        for record in records:
            if fmt == "json":
                out.write("," + _dumps(record) if written else _dumps(record))
            else:
                out.write(_dumps(record) + "\n")
            written += 1
        if fmt == "json":
            out.write("]}")
    return WrittenFile(target, written, target.stat().st_size)
