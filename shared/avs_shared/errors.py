"""The small error family shared by every service.

Adapters translate vendor errors into these (``raise ... from exc``); the worker
runtime and the API map them to outcomes in one place each.
"""

from __future__ import annotations


class AvsError(Exception):
    """Base class of every error this project raises on purpose."""


class Retryable(AvsError):
    """A transient failure: try the same work again later.

    Parameters
    ----------
    message:
        What went wrong.
    retry_after_s:
        How long to wait before the next attempt (the worker runtime changes the
        message visibility to this).
    """

    def __init__(self, message: str, *, retry_after_s: float = 30.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Permanent(AvsError):
    """A failure that no retry can fix (bad input, a broken contract)."""


class NotFound(AvsError):
    """The thing asked for does not exist."""


class Conflict(AvsError):
    """A write lost a race (stale version, lock held, claim taken)."""


class ConfigurationError(AvsError):
    """Settings are missing or invalid; the message says which and how to fix it."""
