"""The diff: what each offline record means for our catalogue (no I/O, no writes).

Matching is by overlap of canonical ``sources``:

- a record that overlaps none of our entries is **new** (its id is derived from its
  primary source; if an entry already has that id it is treated as a match);
- a record that overlaps exactly one entry is that entry (possibly one of several
  records doing so: a **split**);
- a record that overlaps two or more entries is a **merge**: no action but a review.

After the whole file is read, :func:`plan` decides per entry: resurrect, orphan, or
compare ``status`` and ``episodes``. Everything is deterministic: the same file and
the same table give the same plan, in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from avs_shared.identity import anime_id_for_sources, canonical_sources
from avs_shared.schema import OfflineDatabaseHeader
from avs_sync.catalogue import Catalogue, OurEntry
from avs_sync.reader import InvalidRecord, ValidRecord


@dataclass(slots=True)
class RecordInfo:
    """What the sync keeps of an offline record (compact; the raw dict only for new anime)."""

    position: int
    title: str
    status: str
    episodes: int
    sources: tuple[str, ...]

    def brief(self) -> dict[str, object]:
        return {
            "position": self.position,
            "title": self.title,
            "status": self.status,
            "episodes": self.episodes,
            "sources": list(self.sources),
        }


@dataclass(slots=True)
class NewAnime:
    anime_id: str
    info: RecordInfo
    raw: dict[str, Any]


@dataclass
class Diff:
    """The file read against the catalogue."""

    records: int = 0
    invalid: list[InvalidRecord] = field(default_factory=list)
    header: OfflineDatabaseHeader | None = None
    new: dict[str, NewAnime] = field(default_factory=dict)
    new_collisions: list[RecordInfo] = field(default_factory=list)
    hits: dict[int, list[RecordInfo]] = field(default_factory=dict)
    merges: list[tuple[RecordInfo, list[int]]] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)

    def add(self, catalogue: Catalogue, item: ValidRecord) -> None:
        """Classify one valid record."""
        self.records += 1
        record = item.record
        try:
            sources = tuple(canonical_sources(record.sources))
        except ValueError as exc:
            self.invalid.append(InvalidRecord(item.position, item.line, f"sources: {exc}"))
            return
        info = RecordInfo(item.position, record.title, str(record.status), record.episodes, sources)
        matched = catalogue.matches(sources)
        anime_id = anime_id_for_sources(sources) if not matched else None
        if anime_id is not None and anime_id in catalogue.by_id:
            matched = [catalogue.by_id[anime_id]]
        if not matched:
            assert anime_id is not None
            if anime_id in self.new:
                self.new_collisions.append(info)  # two new records share their primary source
            else:
                self.new[anime_id] = NewAnime(anime_id, info, item.raw)
        elif len(matched) == 1:
            self.hits.setdefault(matched[0], []).append(info)
            self.seen.add(matched[0])
        else:
            self.merges.append((info, matched))
            self.seen.update(matched)


def diff_records(
    catalogue: Catalogue, items: Iterable[ValidRecord | InvalidRecord | OfflineDatabaseHeader]
) -> Diff:
    """Read every item of :func:`avs_sync.reader.read_records` into a :class:`Diff`.

    Raises whatever the reader raises (``BrokenSource``): the diff is only usable when
    the whole file was read.
    """
    result = Diff()
    for item in items:
        if isinstance(item, ValidRecord):
            result.add(catalogue, item)
        elif isinstance(item, InvalidRecord):
            result.records += 1
            result.invalid.append(item)
        else:
            result.header = item
    return result


@dataclass
class Plan:
    """What the sync will do, per kind of change."""

    new: list[NewAnime] = field(default_factory=list)
    resurrect: list[OurEntry] = field(default_factory=list)
    orphan: list[OurEntry] = field(default_factory=list)
    status_changed: list[tuple[OurEntry, RecordInfo]] = field(default_factory=list)
    episodes_candidates: list[tuple[OurEntry, RecordInfo]] = field(default_factory=list)
    splits: list[tuple[OurEntry, list[RecordInfo]]] = field(default_factory=list)
    merges: list[tuple[RecordInfo, list[OurEntry]]] = field(default_factory=list)
    episode_details: dict[str, int] = field(default_factory=dict)  # anime_id -> details read
    unchanged: int = 0
    already_orphaned: int = 0


def plan(catalogue: Catalogue, diff: Diff) -> Plan:
    """Decide, per entry and per record, what changes (our data wins: only the listed checks)."""
    result = Plan(new=sorted(diff.new.values(), key=lambda n: n.info.position))
    for info, indexes in diff.merges:
        result.merges.append((info, [catalogue.entries[i] for i in indexes]))
    for index, entry in enumerate(catalogue.entries):
        records = diff.hits.get(index, [])
        if index not in diff.seen:
            if entry.orphaned:
                result.already_orphaned += 1
            else:
                result.orphan.append(entry)
            continue
        if entry.orphaned:
            result.resurrect.append(entry)
        if len(records) > 1:
            result.splits.append((entry, records))
            continue
        if not records:
            continue  # only merge records overlap it: the merge review covers it
        record = records[0]
        flagged = False
        if record.status != entry.status:
            result.status_changed.append((entry, record))
            flagged = True
        if record.episodes > entry.episodes:
            result.episodes_candidates.append((entry, record))
            flagged = True
        if not flagged and not entry.orphaned:
            result.unchanged += 1
    return result
