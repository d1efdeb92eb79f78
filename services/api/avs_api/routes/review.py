"""The review page (``/review``, for browsers) and the same operations as JSON (``/review/api``).

Browsers sign in at ``/review/login`` with an API key of the reviewer (or operator)
role and then carry a signed session cookie; every form has a CSRF token. API
clients call ``/review/api/...`` with ``X-API-Key`` / ``Authorization: Bearer``; those
endpoints ignore cookies. See :mod:`avs_api.review` for the decisions themselves.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from avs_api.auth import Reviewer, key_store
from avs_api.errors import ApiError
from avs_api.review import pages
from avs_api.review.callbacks import TokenNotAccepted
from avs_api.review.model import KIND_FILTERS, TaskStatus
from avs_api.review.service import EntryInvalid, ReviewService
from avs_api.review.session import COOKIE_PATH, LOGIN_COOKIE, SESSION_COOKIE, Session, new_nonce
from avs_api.review.store import InvalidCursor, TaskTaken
from avs_api.review.web import (
    read_form,
    same_origin,
    service_of,
    session_codec,
    settings_of,
    static_response,
)
from avs_shared.errors import NotFound

router = APIRouter(tags=["review"])

_MAX_TASK_ID = 128
_NO_TASK = "there is no such review task; it may have been cleaned up. Go back to the list"
_FORGED = "this form did not come from the review page or it expired; reload the page and try again"


# ----------------------------------------------------------------------------- browser pages


def _session(request: Request) -> Session | None:
    return session_codec(request).read(request.cookies.get(SESSION_COOKIE))


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/review/login?next={quote(target, safe='/')}", status_code=303)


def _safe_next(value: str | None) -> str:
    """Only local review pages: never another site (``//evil``) or a scheme."""
    if value and value.startswith("/review") and not value.startswith("//") and "\\" not in value:
        return value
    return "/review"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or settings_of(request).review_cookie_secure


async def _posted(request: Request, session: Session) -> list[tuple[str, str]] | Response:
    """The form of a POST from the page, or the error page when it is forged or stale."""
    if not same_origin(request):
        return pages.error_page(_FORGED, status=403, session=session)
    pairs = await read_form(request, settings_of(request).review_max_form_bytes)
    token = next((v for k, v in pairs if k == "_csrf"), None)
    if not session_codec(request).csrf_ok(session, token):
        return pages.error_page(_FORGED, status=403, session=session)
    return pairs


@router.get("/review/login", include_in_schema=False)
async def login_form(request: Request, next: str | None = None) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE) or new_nonce()
    response = pages.login_page(token=session_codec(request).login_token(nonce), next_url=_safe_next(next))
    _set_login_cookie(request, response, nonce)
    return response


def _set_login_cookie(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


@router.post("/review/login", include_in_schema=False)
async def login(request: Request) -> Response:
    codec = session_codec(request)
    form = dict(await read_form(request, 16_384))
    nonce = request.cookies.get(LOGIN_COOKIE)
    next_url = _safe_next(form.get("next"))
    if not same_origin(request) or not codec.login_ok(nonce, form.get("_login")):
        fresh = nonce or new_nonce()
        response = pages.login_page(
            token=codec.login_token(fresh), next_url=next_url, error=_FORGED, status=403
        )
        _set_login_cookie(request, response, fresh)
        return response
    principal = await key_store(request.app, settings_of(request)).identify(form.get("api_key", "").strip())
    if principal is None or not principal.has("reviewer"):
        assert nonce is not None
        return pages.login_page(
            token=codec.login_token(nonce),
            next_url=next_url,
            error="that API key is not valid for the review page (it needs the reviewer or operator role)",
            status=401,
        )
    cookie, _ = codec.issue(principal)
    redirect = RedirectResponse(next_url, status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=codec.ttl_s,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    redirect.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return redirect


@router.post("/review/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return RedirectResponse("/review/login", status_code=303)
    posted = await _posted(request, session)
    if isinstance(posted, Response):
        return posted
    response = RedirectResponse("/review/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/review", include_in_schema=False)
async def review_list(
    request: Request,
    kind: str | None = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
    task: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    return await pages.list_page(
        service_of(request),
        session=session,
        csrf=session_codec(request).csrf_token(session),
        kind=kind or None,
        cursor=cursor,
        page_size=settings_of(request).review_page_size,
        done=(done, task) if done in ("approved", "rejected") and task else None,
    )


@router.get("/review/tasks/{task_id}", include_in_schema=False)
async def review_task(request: Request, task_id: str) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if len(task_id) > _MAX_TASK_ID:
        return pages.error_page(_NO_TASK, status=404, session=session)
    try:
        view = await service_of(request).view(task_id)
    except NotFound:
        return pages.error_page(_NO_TASK, status=404, session=session)
    return pages.task_page(view, session=session, csrf=session_codec(request).csrf_token(session))


@router.post("/review/tasks/{task_id}/approve", include_in_schema=False)
async def review_approve(request: Request, task_id: str) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if len(task_id) > _MAX_TASK_ID:
        return pages.error_page(_NO_TASK, status=404, session=session)
    posted = await _posted(request, session)
    if isinstance(posted, Response):
        return posted
    base = next((v for k, v in posted if k == "_base_version"), "")
    if not base.isdigit():
        return pages.error_page(
            "the form lacks the entry version it was made from; reload the task", status=400
        )
    try:
        return await pages.approve_from_form(
            service_of(request),
            task_id,
            posted,
            session=session,
            csrf=session_codec(request).csrf_token(session),
            base_version=int(base),
        )
    except NotFound:
        return pages.error_page(_NO_TASK, status=404, session=session)


@router.post("/review/tasks/{task_id}/reject", include_in_schema=False)
async def review_reject(request: Request, task_id: str) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if len(task_id) > _MAX_TASK_ID:
        return pages.error_page(_NO_TASK, status=404, session=session)
    posted = await _posted(request, session)
    if isinstance(posted, Response):
        return posted
    reason = next((v for k, v in posted if k == "reason"), "")
    try:
        return await pages.reject_from_form(
            service_of(request),
            task_id,
            reason,
            session=session,
            csrf=session_codec(request).csrf_token(session),
        )
    except NotFound:
        return pages.error_page(_NO_TASK, status=404, session=session)


@router.get("/review/static/{name}", include_in_schema=False)
async def review_static(request: Request, name: str) -> Response:
    return static_response(name, request)


# ----------------------------------------------------------------------------- JSON endpoints


class ApproveRequest(BaseModel):
    """Approve a task; ``entry`` is the edited entry (omit it to approve the proposal as is)."""

    model_config = ConfigDict(extra="forbid")

    entry: dict[str, Any] | None = None
    base_version: int | None = Field(
        default=None,
        ge=0,
        description="the live entry's version you reviewed (from GET ...); omit to skip the check",
    )


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1, max_length=10_000, description="why; it is recorded and sent to Step Functions"
    )


_JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request cannot be done (e.g. the task's proposed entry is gone)."},
    401: {"description": "No or an invalid API key."},
    403: {"description": "The key lacks the reviewer role."},
    404: {"description": "No such task."},
    409: {"description": "Another reviewer decided the task, or the live entry changed."},
    410: {"description": "Step Functions no longer accepts the task token (timed out or ended)."},
    422: {"description": "The edited entry is invalid; the body names each field."},
    503: {"description": "AWS (DynamoDB, S3, Step Functions, SNS) is unavailable; retry after Retry-After."},
}
TaskId = Annotated[str, PathParam(min_length=1, max_length=_MAX_TASK_ID, description="The review task's id.")]


def _service(request: Request) -> ReviewService:
    return service_of(request)


@router.get("/review/api/tasks", responses=_JSON_ERRORS)
async def list_tasks(
    request: Request,
    _reviewer: Reviewer,
    status: TaskStatus = TaskStatus.PENDING,
    kind: Annotated[str | None, Query(description=f"one of {', '.join(KIND_FILTERS)}")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> dict[str, Any]:
    """Review tasks in ``status``, oldest first; follow ``next_cursor`` for more."""
    if kind is not None and kind not in KIND_FILTERS:
        raise ApiError(422, "invalid_request", f"kind must be one of {', '.join(KIND_FILTERS)}")
    try:
        found = await _service(request).list_tasks(status=status, kind=kind, limit=limit, cursor=cursor)
    except InvalidCursor as exc:
        raise ApiError(
            422, "invalid_request", str(exc), fields=[{"field": "cursor", "reason": str(exc)}]
        ) from exc
    return {"tasks": [t.public() for t in found.tasks], "next_cursor": found.next_cursor}


@router.get("/review/api/tasks/{task_id}", responses=_JSON_ERRORS)
async def get_task(request: Request, task_id: TaskId, _reviewer: Reviewer) -> dict[str, Any]:
    """The task, the entry to review, the live entry, their differences and the live version."""
    view = await _service(request).view(task_id)
    return {
        "task": view.task.public(),
        "entry": view.proposal,
        "live_entry": view.live,
        "base_version": view.live_version,
        "diff": [row.public() for row in view.diff],
        "problem": view.problem,
    }


@router.post("/review/api/tasks/{task_id}/approve", responses=_JSON_ERRORS)
async def approve_task(
    request: Request, task_id: TaskId, body: ApproveRequest, reviewer: Reviewer
) -> dict[str, Any]:
    """Approve (with an optional edited entry): validated first; nothing is sent when invalid."""
    try:
        task = await _service(request).approve(
            task_id, by=reviewer.name, document=body.entry, base_version=body.base_version
        )
    except EntryInvalid as exc:
        raise ApiError(422, "invalid_entry", str(exc), fields=[e.public() for e in exc.errors]) from exc
    except (TokenNotAccepted, TaskTaken) as exc:
        raise _decision_error(exc) from exc
    return {"task": task.public()}


@router.post("/review/api/tasks/{task_id}/reject", responses=_JSON_ERRORS)
async def reject_task(
    request: Request, task_id: TaskId, body: RejectRequest, reviewer: Reviewer
) -> dict[str, Any]:
    """Reject with a reason (Step Functions tasks fail with error ``Rejected``)."""
    try:
        task = await _service(request).reject(task_id, by=reviewer.name, reason=body.reason)
    except (TokenNotAccepted, TaskTaken) as exc:
        raise _decision_error(exc) from exc
    return {"task": task.public()}


def _decision_error(exc: TokenNotAccepted | TaskTaken) -> ApiError:
    if isinstance(exc, TokenNotAccepted):
        return ApiError(410, "review_expired", str(exc), extra={"token_error": exc.code})
    status = exc.task.status.value if exc.task is not None else None
    return ApiError(409, "task_taken", str(exc), extra={"task_status": status})
