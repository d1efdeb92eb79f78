"""The review pages' plumbing: templates, security headers, form bodies, per-app singletons.

Templates are Jinja2 with autoescaping on for everything, so entry text from third
parties is always rendered as text; the Content-Security-Policy allows scripts and
styles from this site only (no inline script), a second wall behind the escaping.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jinja2
import structlog
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from avs_api.errors import ApiError
from avs_api.review.service import ReviewService
from avs_api.review.session import SessionCodec
from avs_api.review.wiring import review_service
from avs_api.settings import ApiSettings

log = structlog.get_logger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
FORM_TYPE = "application/x-www-form-urlencoded"
_MAX_FIELDS = 500_000
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@cache
def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("avs_api", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = static_url
    return env


def page(name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    """A rendered page with the security headers."""
    html = templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


@cache
def static_file(name: str) -> StaticFile | None:
    """A file of ``avs_api/static`` (only .js and .css), read once."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix not in STATIC_TYPES or "/" in name or name.startswith("."):
        return None
    resource = files("avs_api").joinpath("static", name)
    if not resource.is_file():
        return None
    body = resource.read_bytes()
    return StaticFile(body, STATIC_TYPES[suffix], hashlib.sha256(body).hexdigest()[:16])


def static_url(name: str) -> str:
    found = static_file(name)
    return f"/review/static/{name}" + (f"?v={found.etag}" if found else "")


def static_response(name: str, request: Request) -> Response:
    found = static_file(name)
    if found is None:
        raise ApiError(404, "not_found", f"no static file {name!r}")
    headers = {
        "ETag": f'"{found.etag}"',
        "Cache-Control": "public, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == f'"{found.etag}"':
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.content_type, headers=headers)


async def read_form(request: Request, limit: int) -> list[tuple[str, str]]:
    """The ``application/x-www-form-urlencoded`` body as (name, value) pairs, in order.

    Raises
    ------
    ApiError
        415 for another content type, 413 over ``limit`` bytes, 400 if it is not UTF-8.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise ApiError(415, "unsupported_media_type", f"send the form as {FORM_TYPE}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"the form is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise ApiError(413, "too_large", f"the form is larger than {limit} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "bad_request", "the form is not UTF-8") from exc
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError as exc:
        raise ApiError(413, "too_large", f"the form has more than {_MAX_FIELDS} fields") from exc


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site's page."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not sent by every client; the CSRF token still decides
    return urlsplit(origin).netloc == request.headers.get("host", "")


def settings_of(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.resources.settings
    return settings


def session_codec(request: Request) -> SessionCodec:
    """The app's session codec (secret from settings, else random for this process)."""
    codec: SessionCodec | None = getattr(request.app.state, "review_sessions", None)
    if codec is None:
        settings = settings_of(request)
        if settings.review_session_secret is not None:
            secret = settings.review_session_secret.get_secret_value().encode()
        else:
            log.warning(
                "review.session_secret_unset",
                hint="set AVS_REVIEW_SESSION_SECRET so sessions survive restarts and work across processes",
            )
            secret = secrets.token_bytes(32)
        codec = SessionCodec(secret, ttl_s=settings.review_session_ttl_seconds)
        request.app.state.review_sessions = codec
    return codec


def service_of(request: Request) -> ReviewService:
    """The app's review service, built on first use over the app's clients."""
    resources = request.app.state.resources
    built: tuple[object, ReviewService] | None = getattr(request.app.state, "review_service", None)
    if built is None or built[0] is not resources:  # a new lifespan has new clients
        service = review_service(
            resources.aws, resources.settings, objects=resources.objects, entries=resources.entries
        )
        built = (resources, service)
        request.app.state.review_service = built
    return built[1]
