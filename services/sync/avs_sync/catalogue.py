"""Our side of the diff: every entry's sources and the few fields the sync compares.

The table is read once, by a parallel scan with a projection (never one read per
record). Entries are kept compactly (slots, canonical sources in tuples) and indexed
by canonical source URL, so matching a record is a few dictionary lookups.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from avs_shared.identity import canonical_source
from avs_shared.ports.entries import EntryStore
from avs_shared.schema import SystemStatus

log = structlog.get_logger(__name__)

SCAN_FIELDS = ("sources", "title", "status", "episodes", "system_status")
"""What the sync reads of every entry (``id`` comes with any projection)."""


@dataclass(slots=True)
class OurEntry:
    id: str
    title: str
    status: str
    episodes: int
    system_status: str
    sources: tuple[str, ...]

    @property
    def orphaned(self) -> bool:
        return self.system_status == SystemStatus.ORPHANED

    def brief(self) -> dict[str, object]:
        """What a reviewer sees of this entry."""
        return {
            "anime_id": self.id,
            "title": self.title,
            "status": self.status,
            "episodes": self.episodes,
            "system_status": self.system_status,
            "sources": list(self.sources),
        }


class Catalogue:
    """Our entries, indexed by canonical source URL and by id."""

    def __init__(self) -> None:
        self.entries: list[OurEntry] = []
        self.by_id: dict[str, int] = {}
        self._by_source: dict[str, int] = {}
        self._shared: dict[str, list[int]] = {}  # a URL on more than one of our entries

    def add(self, entry: OurEntry) -> None:
        index = len(self.entries)
        self.entries.append(entry)
        self.by_id[entry.id] = index
        for url in entry.sources:
            first = self._by_source.setdefault(url, index)
            if first != index:
                owners = self._shared.setdefault(url, [first])
                if index not in owners:
                    owners.append(index)

    def matches(self, sources: tuple[str, ...]) -> list[int]:
        """Our entries sharing at least one of ``sources`` (canonical), ascending."""
        found: set[int] = set()
        for url in sources:
            index = self._by_source.get(url)
            if index is not None:
                found.add(index)
                found.update(self._shared.get(url, ()))
        return sorted(found)

    @property
    def shared_sources(self) -> dict[str, list[str]]:
        """URLs that more than one of our entries claim (already duplicates on our side)."""
        return {url: [self.entries[i].id for i in owners] for url, owners in self._shared.items()}

    def __len__(self) -> int:
        return len(self.entries)


async def load_catalogue(
    entries: EntryStore, *, segments: int = 4, progress: Callable[[int], None] | None = None
) -> Catalogue:
    """Read every entry once (parallel scan, projected to :data:`SCAN_FIELDS`)."""
    catalogue = Catalogue()
    if progress is not None:
        progress(0)
    rows = entries.scan(segments, list(SCAN_FIELDS))
    async with contextlib.aclosing(rows):
        async for row in rows:
            catalogue.add(_our_entry(row))
            if progress is not None and len(catalogue) % 1000 == 0:
                progress(len(catalogue))
    if progress is not None:
        progress(len(catalogue))
    shared = catalogue.shared_sources
    if shared:
        url, owners = next(iter(shared.items()))
        log.warning(
            "sync.catalogue_shares_sources",
            urls=len(shared),
            example_url=url,
            example_entries=owners[:5],
            reason="more than one of our entries claims the same source; records with it are merges",
        )
    return catalogue


def _our_entry(row: dict[str, object]) -> OurEntry:
    anime_id = str(row["id"])
    sources: list[str] = []
    raw_sources = row.get("sources")
    for url in raw_sources if isinstance(raw_sources, list) else []:
        try:
            sources.append(canonical_source(str(url)))
        except ValueError:
            log.warning("sync.entry_source_unreadable", anime_id=anime_id, source=url)
    episodes = row.get("episodes")
    return OurEntry(
        id=anime_id,
        title=str(row.get("title") or ""),
        status=str(row.get("status") or ""),
        episodes=int(episodes) if isinstance(episodes, int | float) else 0,
        system_status=str(row.get("system_status") or SystemStatus.ACTIVE),
        sources=tuple(dict.fromkeys(sources)),
    )
