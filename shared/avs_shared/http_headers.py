"""Reading rate-limit headers of upstream HTTP answers (the API proxy and the enricher's clients)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime


def header(headers: Mapping[str, str], name: str) -> str:
    """The value of header ``name`` whatever its case ('' when absent)."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), "")
    return str(value).strip()


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta-seconds or an HTTP date); None if absent or past."""
    value = header(headers, "Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return seconds if seconds > 0 else None


def rate_limit_reset_s(headers: Mapping[str, str]) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (an epoch time); None if absent, unparsable or past."""
    try:
        seconds = float(header(headers, "X-RateLimit-Reset")) - time.time()
    except ValueError:
        return None
    return seconds if seconds > 0 else None
