"""Opaque pagination cursors of the search endpoints.

A cursor is URL-safe base64 of compact JSON: the fingerprint of the search it
belongs to (``f``) plus where the next page starts (phase-specific keys). Handing a
cursor to another search (other filters, sort or query) is refused rather than
silently paging through something else.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from avs_shared.errors import Permanent


class InvalidCursor(Permanent):
    """The cursor is malformed or belongs to another search; start again without one."""


def encode(fingerprint: str, **state: Any) -> str:
    raw = json.dumps({"f": fingerprint, **state}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, fingerprint: str) -> dict[str, Any]:
    """The cursor's state; ``InvalidCursor`` if it is not one of ours or not for this search."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidCursor("cursor is malformed: pass next_cursor exactly as it was returned") from exc
    if not isinstance(data, dict):
        raise InvalidCursor("cursor is malformed: pass next_cursor exactly as it was returned")
    if data.get("f") != fingerprint:
        raise InvalidCursor(
            "cursor belongs to another search (different filters, sort or query); "
            "repeat the search without cursor to start over"
        )
    return data
