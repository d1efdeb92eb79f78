"""The entry store port: enriched :class:`~avs_shared.schema.AnimeEntry` documents by ``anime_id``.

The store is the source of truth for full entries (the vector index holds only a
filterable payload). Writers use optimistic concurrency on ``version``; readers can
ask for a projection (``fields=["title", "statistics.mal.score"]``) and get plain
JSON dicts back instead of validated entries.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from typing import Protocol, overload

from pydantic import JsonValue

from avs_shared.schema import AnimeEntry, SystemStatus

Projected = dict[str, JsonValue]
"""A projected entry: the requested paths of its JSON document, plus ``id``."""


class EntryStore(Protocol):
    """Enriched entries keyed by ``anime_id`` (= ``AnimeEntry.id``).

    Field paths
    -----------
    Every ``fields`` / ``set`` / ``remove`` argument takes document paths in the
    entry's JSON names: a top-level name (``title``), nested map keys joined by dots
    (``statistics.mal.score``) and list indexes in brackets (``images.covers[0]``).
    Each name must match ``[A-Za-z_][A-Za-z0-9_-]*``; anything else raises
    ``ValueError`` before any I/O. Reserved words (``status``, ``year``, ``name``,
    ``type``, ...) need no quoting.

    Versioning
    ----------
    Every write sets the stored ``version`` to one more than the version it replaced
    and sets ``updated_at``. A write based on an older version than the stored one
    never overwrites it: it raises :class:`~avs_shared.errors.Conflict`.

    Errors
    ------
    Throttling and server errors raise :class:`~avs_shared.errors.Retryable`; lost
    conditional writes raise :class:`~avs_shared.errors.Conflict`; data that can
    never be stored or read back raises :class:`~avs_shared.errors.Permanent`.
    """

    @overload
    async def get(
        self, anime_id: str, fields: None = None, *, consistent: bool = False
    ) -> AnimeEntry | None: ...

    @overload
    async def get(
        self, anime_id: str, fields: Sequence[str], *, consistent: bool = False
    ) -> Projected | None: ...

    async def get(
        self, anime_id: str, fields: Sequence[str] | None = None, *, consistent: bool = False
    ) -> AnimeEntry | Projected | None:
        """One entry, or None when there is none.

        Parameters
        ----------
        anime_id:
            The entry's id.
        fields:
            None for the whole :class:`AnimeEntry`; otherwise the paths to return, as
            a JSON dict holding those paths (missing ones left out) and always ``id``.
        consistent:
            Strongly consistent read (sees every write acknowledged before it).

        Raises
        ------
        ValueError
            A field path is not a safe document path.
        """
        ...

    @overload
    async def batch_get(
        self, ids: Iterable[str], fields: None = None, *, consistent: bool = False
    ) -> list[AnimeEntry]: ...

    @overload
    async def batch_get(
        self, ids: Iterable[str], fields: Sequence[str], *, consistent: bool = False
    ) -> list[Projected]: ...

    async def batch_get(
        self, ids: Iterable[str], fields: Sequence[str] | None = None, *, consistent: bool = False
    ) -> list[AnimeEntry] | list[Projected]:
        """The entries of ``ids`` that exist, in the order of ``ids``.

        Missing ids are left out; an id given twice is returned once, at its first
        position. ``fields`` works as in :meth:`get`.
        """
        ...

    async def put(self, entry: AnimeEntry, *, expected_version: int | None) -> AnimeEntry:
        """Store ``entry`` if the stored version is still ``expected_version``.

        Parameters
        ----------
        entry:
            The whole entry; its own ``version`` and ``updated_at`` are ignored.
        expected_version:
            The version this write is based on (the ``version`` the writer read), or
            None when the entry must not exist yet.

        Returns
        -------
        AnimeEntry
            The stored entry: ``version`` is ``expected_version + 1`` (1 for a
            create), ``updated_at`` is now, ``system_status`` is explicit.

        Raises
        ------
        Conflict
            The stored version is not ``expected_version`` (a stale write never
            overwrites a newer entry), or it exists when ``expected_version`` is None.

        Notes
        -----
        A replay of a write that already succeeded (same entry content, same
        ``expected_version``, and nothing written since) is detected and returns the
        stored entry without writing again.
        """
        ...

    async def batch_put(self, entries: Iterable[AnimeEntry]) -> None:
        """Store many entries unconditionally, as given (``version`` included).

        For bootstrap and restore only: it overwrites whatever is stored. An id given
        twice is stored once, with its last entry.

        Raises
        ------
        Retryable
            Some items were still unprocessed after the bounded retries; calling
            again with the same entries is safe.
        """
        ...

    async def update_fields(
        self,
        anime_id: str,
        set: Mapping[str, object],
        remove: Sequence[str] = (),
        *,
        condition_exists: bool = True,
        expected_version: int | None = None,
        expect: Mapping[str, JsonValue] | None = None,
    ) -> int:
        """Change some paths of one entry in place, atomically; returns the new version.

        Parameters
        ----------
        anime_id:
            The entry's id.
        set:
            Path to new JSON value (datetimes are stored as UTC ISO text). A list
            index path (``images.covers[0]``) must address an existing element.
        remove:
            Paths to delete.
        condition_exists:
            Fail with :class:`Conflict` when the entry does not exist (otherwise the
            update creates a partial item; meant for tests and repair only).
        expected_version:
            Also require the stored version to be this.
        expect:
            Also require these paths to hold these values (compare-and-set), e.g.
            ``{"images.covers[0]": old_url}`` when replacing that URL.

        Raises
        ------
        Conflict
            A condition failed; the message says which.
        Permanent
            A path is inside a field the store keeps outside the item (a very large
            list); write the whole entry with :meth:`put` instead.
        ValueError
            A path is not a safe document path, overlaps another, or names a field
            the store owns (``id``, ``version``, ``updated_at``).
        """
        ...

    @overload
    def query_by_status(
        self, status: SystemStatus | str, fields: None = None, *, page_size: int | None = None
    ) -> AsyncGenerator[AnimeEntry, None]: ...

    @overload
    def query_by_status(
        self, status: SystemStatus | str, fields: Sequence[str], *, page_size: int | None = None
    ) -> AsyncGenerator[Projected, None]: ...

    def query_by_status(
        self, status: SystemStatus | str, fields: Sequence[str] | None = None, *, page_size: int | None = None
    ) -> AsyncGenerator[AnimeEntry, None] | AsyncGenerator[Projected, None]:
        """Every entry whose ``system_status`` is ``status`` (eventually consistent).

        ``page_size`` bounds the items read per request; pages are followed to the end.
        """
        ...

    @overload
    def scan(
        self, segments: int = 4, fields: None = None, *, page_size: int | None = None
    ) -> AsyncGenerator[AnimeEntry, None]: ...

    @overload
    def scan(
        self, segments: int, fields: Sequence[str], *, page_size: int | None = None
    ) -> AsyncGenerator[Projected, None]: ...

    def scan(
        self, segments: int = 4, fields: Sequence[str] | None = None, *, page_size: int | None = None
    ) -> AsyncGenerator[AnimeEntry, None] | AsyncGenerator[Projected, None]:
        """Every entry once, read by ``segments`` concurrent segment readers (in no order).

        Entries written during the scan may or may not be seen. Stop early by closing
        the iterator (``aclose()``, or leaving an ``async for`` through ``break``
        inside ``contextlib.aclosing``); the segment readers are then cancelled.
        """
        ...
