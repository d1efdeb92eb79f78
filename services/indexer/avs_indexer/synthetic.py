"""Synthetic, schema-valid anime data for scale tests and benchmarks.

Entry ``i`` of seed ``s`` depends only on ``(s, i)``: generation streams, a shorter
run is a prefix of a longer one, and ``generate_offline_records(n, seed=s)`` yields
the raw offline-database records of the same anime as ``generate_entries(n, seed=s)``
(exactly ``offline_record_for(entry, map_types=True)`` of each entry).

Enriched entries are JSON dicts that ``AnimeEntry.from_json_dict`` accepts and that
round-trip exactly through it; offline records do the same with ``OfflineRecord``.
Within one seed, ids, source URLs and image URLs are unique (up to ``MAX_ENTRIES``).

This module is the public face; the work is done by

- :mod:`~avs_indexer.synthetic_core`: what both databases know of an anime (:class:`Core`);
- :mod:`~avs_indexer.synthetic_entries`: the enriched entries;
- :mod:`~avs_indexer.synthetic_offline`: the offline-database records;
- :mod:`~avs_indexer.synthetic_files`: the database file writers;
- :mod:`~avs_indexer.synthetic_text` and :mod:`~avs_indexer.synthetic_words`: prose and word pools.
"""

from __future__ import annotations

from avs_indexer.synthetic_core import CDN, MAX_ENTRIES, Core, build_core, entry_id
from avs_indexer.synthetic_entries import build_entry, generate_entries
from avs_indexer.synthetic_files import (
    DEFAULT_LAST_UPDATE,
    OFFLINE_LICENSE,
    OFFLINE_REPOSITORY,
    WrittenFile,
    write_enriched_file,
    write_offline_file,
)
from avs_indexer.synthetic_offline import (
    NO_PIC,
    NO_PIC_THUMBNAIL,
    generate_offline_records,
    offline_record_for,
)

__all__ = [
    "CDN",
    "DEFAULT_LAST_UPDATE",
    "MAX_ENTRIES",
    "NO_PIC",
    "NO_PIC_THUMBNAIL",
    "OFFLINE_LICENSE",
    "OFFLINE_REPOSITORY",
    "Core",
    "WrittenFile",
    "build_core",
    "build_entry",
    "entry_id",
    "generate_entries",
    "generate_offline_records",
    "offline_record_for",
    "write_enriched_file",
    "write_offline_file",
]
