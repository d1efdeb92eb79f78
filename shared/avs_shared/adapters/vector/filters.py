"""Engine-neutral filter handling shared by both adapters.

A :class:`~avs_shared.ports.vector.SearchFilter` is lowered to a plain
:class:`~avs_shared.ports.vector.Clause` (the status scope becomes ordinary
conditions) and validated once here; each adapter then only maps a ``Clause``
onto its engine's filter classes, one condition kind at a time.
"""

from __future__ import annotations

from collections.abc import Iterable

from avs_shared.errors import Permanent
from avs_shared.ports.vector import (
    ORPHANED,
    SYSTEM_STATUS_FIELD,
    Clause,
    Condition,
    HasId,
    IsEmpty,
    Match,
    MatchAny,
    MatchText,
    Range,
    SearchFilter,
    StatusScope,
)

from .model import canonical_ids

_ORPHANED = Match(SYSTEM_STATUS_FIELD, ORPHANED)


def lower(search_filter: SearchFilter | None) -> Clause:
    """The filter as one ``Clause``; ``None`` means the default (active points only)."""
    f = search_filter or SearchFilter()
    must, must_not = list(f.must), list(f.must_not)
    # Active = "not orphaned" rather than "== ACTIVE": a point written before the
    # field existed, or by a writer that omits it, still shows up.
    if f.status is StatusScope.ACTIVE:
        must_not.append(_ORPHANED)
    elif f.status is StatusScope.ORPHANED:
        must.append(_ORPHANED)
    clause = Clause(must=tuple(must), should=tuple(f.should), must_not=tuple(must_not))
    validate(clause)
    return clause


def and_(clause: Clause, *conditions: Condition) -> Clause:
    """``clause`` AND all ``conditions`` (flattened: must is a conjunction)."""
    return Clause(must=(*clause.must, *conditions), should=clause.should, must_not=clause.must_not)


def validate(clause: Clause) -> None:
    """Reject what the engines would reject (or, worse, interpret differently)."""
    for condition in _walk(clause):
        if isinstance(condition, Range):
            bounds = (condition.gte, condition.gt, condition.lte, condition.lt)
            if all(b is None for b in bounds):
                raise Permanent(f"range on {condition.field!r} has no bound")
        elif isinstance(condition, MatchAny):
            if isinstance(condition.values, str):
                raise Permanent(f"MatchAny on {condition.field!r} needs a list of values, not a string")
        elif isinstance(condition, HasId):
            canonical_ids(list(condition.ids))
        elif isinstance(condition, Match | MatchText | IsEmpty | Clause):
            pass
        else:  # pragma: no cover - guarded by the type checker
            raise Permanent(f"unsupported filter condition {condition!r}")


def _walk(clause: Clause) -> Iterable[Condition]:
    for condition in (*clause.must, *clause.should, *clause.must_not):
        yield condition
        if isinstance(condition, Clause):
            yield from _walk(condition)


def is_empty(clause: Clause) -> bool:
    return not (clause.must or clause.should or clause.must_not)
