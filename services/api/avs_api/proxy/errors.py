"""The proxy's errors, as :class:`ApiError` (the app's handler renders the JSON).

Every upstream-related body names the ``provider`` and says whether a retry may help::

    {"error": {"code": "upstream_error", "message": "...", "retryable": true, "provider": "jikan"}}
"""

from __future__ import annotations

import math
from typing import Any

from avs_api.errors import ApiError


def _seconds(value: float) -> str:
    return str(max(1, math.ceil(value)))


def invalid_path(provider: str, reason: str) -> ApiError:
    return ApiError(
        400,
        "invalid_path",
        f"{reason}; send a relative path of the {provider} API",
        extra={"provider": provider},
    )


def path_not_proxied(provider: str, path: str, allowed: list[str]) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"{path!r} is not a proxied {provider} path",
        extra={"provider": provider, "allowed": allowed},
    )


def invalid_query(provider: str, reason: str) -> ApiError:
    return ApiError(400, "invalid_query", reason, extra={"provider": provider})


def invalid_graphql(reason: str) -> ApiError:
    return ApiError(400, "invalid_graphql", reason, extra={"provider": "anilist"})


def body_too_large(limit: int) -> ApiError:
    return ApiError(
        413, "body_too_large", f"the request body exceeds {limit} bytes", extra={"provider": "anilist"}
    )


def upstream_rate_limited(provider: str, retry_after_s: float) -> ApiError:
    seconds = _seconds(retry_after_s)
    return ApiError(
        429,
        "upstream_rate_limited",
        f"{provider} asked us to slow down; retry after {seconds} s",
        retryable=True,
        headers={"Retry-After": seconds},
        extra={"provider": provider},
    )


def upstream_busy(provider: str, retry_after_s: float) -> ApiError:
    seconds = _seconds(retry_after_s)
    return ApiError(
        503,
        "upstream_busy",
        f"our request budget for {provider} is used up for now; retry after {seconds} s",
        retryable=True,
        headers={"Retry-After": seconds},
        extra={"provider": provider},
    )


def upstream_error(
    provider: str, message: str, *, retryable: bool = True, status: int | None = None
) -> ApiError:
    extra: dict[str, Any] = {"provider": provider}
    if status is not None:
        extra["upstream_status"] = status
    return ApiError(502, "upstream_error", message, retryable=retryable, extra=extra)


def upstream_timeout(provider: str, timeout_s: float) -> ApiError:
    return ApiError(
        504,
        "upstream_timeout",
        f"{provider} did not answer within {timeout_s:g} s; retry later",
        retryable=True,
        extra={"provider": provider},
    )


def upstream_rejected(provider: str, status: int, upstream_body: Any | None) -> ApiError:
    """An upstream 4xx, passed through with its status (404 stays 404)."""
    code = "not_found" if status == 404 else "upstream_rejected"
    extra: dict[str, Any] = {"provider": provider, "upstream_status": status}
    if upstream_body is not None:
        extra["upstream_body"] = upstream_body
    return ApiError(status, code, f"{provider} answered {status}", extra=extra)
