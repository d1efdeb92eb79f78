"""What a sync did (or, with ``--dry-run``, would do): logged and printed at the end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from avs_sync.reader import InvalidRecord

_SHOWN_INVALID = 20


@dataclass
class SyncSummary:
    """Counts of one sync run.

    ``new`` are anime this run enqueued (``anime-new`` published); ``locked_elsewhere``
    were new too but held by another run (or already enqueued by an earlier one).
    ``flagged`` counts review requests by kind. In a dry run the same fields say what
    would happen and nothing is written.
    """

    source: str = ""
    version: str | None = None
    previous_version: str | None = None
    dry_run: bool = False
    skipped_unchanged: bool = False
    last_update: str | None = None
    records: int = 0
    entries: int = 0
    new: int = 0
    locked_elsewhere: int = 0
    resurrected: int = 0
    orphaned: int = 0
    already_orphaned: int = 0
    unchanged: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    review_requests: int = 0
    invalid_records: int = 0
    invalid_examples: list[str] = field(default_factory=list)
    new_collisions: int = 0
    vector_points_missing: int = 0
    concurrent_changes: int = 0
    version_recorded: bool = False
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def note_invalid(self, invalid: list[InvalidRecord]) -> None:
        self.invalid_records = len(invalid)
        self.invalid_examples = [f"{r.where()}: {r.error}" for r in invalid[:_SHOWN_INVALID]]

    def as_log(self) -> dict[str, Any]:
        """The fields for the ``sync.finished`` log record."""
        data = asdict(self)
        data.pop("invalid_examples")
        return data

    def lines(self) -> list[str]:
        """The summary for people, one fact per line."""
        if self.skipped_unchanged:
            return [
                f"source {self.source} is unchanged (version {self.version}); nothing to do "
                "(--force syncs anyway)",
                f"duration {self.duration_s:.1f} s",
            ]
        mode = "DRY RUN: nothing was written; " if self.dry_run else ""
        flagged = ", ".join(f"{k} {v}" for k, v in sorted(self.flagged.items())) or "none"
        lines = [
            f"{mode}source {self.source} (version {self.version}, lastUpdate {self.last_update})",
            f"records {self.records} in the file, entries {self.entries} in the catalogue",
            f"new {self.new}{' (would be enqueued)' if self.dry_run else ' enqueued'}, "
            f"locked elsewhere {self.locked_elsewhere}",
            f"resurrected {self.resurrected}, orphaned {self.orphaned} "
            f"(already orphaned {self.already_orphaned}), unchanged {self.unchanged}",
            f"flagged for review: {flagged}",
            f"invalid records {self.invalid_records} (skipped)",
        ]
        lines += [f"  {example}" for example in self.invalid_examples]
        if self.invalid_records > len(self.invalid_examples):
            lines.append(f"  ... and {self.invalid_records - len(self.invalid_examples)} more")
        if self.new_collisions:
            lines.append(
                f"new records sharing a primary source with another new record: {self.new_collisions}"
            )
        if self.vector_points_missing:
            lines.append(
                f"entries without a vector point (payload not updated): {self.vector_points_missing}"
            )
        if self.concurrent_changes:
            lines.append(
                f"entries changed concurrently by someone else (left as found): {self.concurrent_changes}"
            )
        if not self.dry_run:
            lines.append(
                "version recorded" if self.version_recorded else "version NOT recorded (no snapshot object)"
            )
        lines += self.notes
        lines.append(f"duration {self.duration_s:.1f} s")
        return lines
