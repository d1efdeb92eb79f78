"""The review pages: what each template gets, and the approve/reject form flows.

Routes stay thin: they check the session and the CSRF token and call these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse, RedirectResponse, Response

from avs_api.review.callbacks import TokenNotAccepted
from avs_api.review.diff import diff_entries
from avs_api.review.form import Path, dotted, error_path, parse_form
from avs_api.review.form_render import core_sections, read_only_fields, render_form
from avs_api.review.model import KIND_FILTERS, KIND_LABELS, ReviewTask, TaskStatus
from avs_api.review.service import EntryInvalid, ReasonRequired, ReviewService, TaskView, validate_entry
from avs_api.review.session import Session
from avs_api.review.store import InvalidCursor, TaskTaken
from avs_api.review.web import page
from avs_shared.errors import Conflict, Retryable


@dataclass(frozen=True)
class Banner:
    kind: str  # "ok", "error", "warning"
    message: str


def login_page(*, token: str, next_url: str, error: str | None = None, status: int = 200) -> HTMLResponse:
    return page(
        "review/login.html", {"login_token": token, "next_url": next_url, "error": error}, status=status
    )


async def list_page(
    service: ReviewService,
    *,
    session: Session,
    csrf: str,
    kind: str | None,
    cursor: str | None,
    page_size: int,
    done: tuple[str, str] | None = None,
) -> HTMLResponse:
    """``GET /review``: pending tasks, oldest first, filtered by kind."""
    banner = None
    status = 200
    if kind and kind not in KIND_FILTERS:
        banner, kind, status = Banner("error", f"unknown kind {kind!r}; showing every kind"), None, 400
    try:
        found = await service.list_tasks(kind=kind, limit=page_size, cursor=cursor)
    except InvalidCursor as exc:
        banner, status = Banner("error", str(exc)), 400
        found = await service.list_tasks(kind=kind, limit=page_size)
    if done is not None and banner is None:
        # The banner names the task from the store: the query string only says which one.
        action, task_id = done
        decided = await service.store.get(task_id)
        if decided is not None and decided.status.value == action:
            banner = Banner("ok", f"{action.capitalize()}: {decided.title or decided.anime_id}")
    next_url = None
    if found.next_cursor:
        query = {"cursor": found.next_cursor, **({"kind": kind} if kind else {})}
        next_url = "/review?" + urlencode(query)
    context = {
        "session": session,
        "csrf": csrf,
        "tasks": found.tasks,
        "kind": kind or "",
        "kinds": KIND_LABELS,
        "next_url": next_url,
        "banner": banner,
    }
    return page("review/list.html", context, status=status)


def task_page(
    view: TaskView,
    *,
    session: Session,
    csrf: str,
    document: Mapping[str, Any] | None = None,
    errors: Mapping[Path, str] | None = None,
    raw: Mapping[Path, str] | None = None,
    banner: Banner | None = None,
    reject_error: str | None = None,
    reason: str = "",
    status: int = 200,
) -> HTMLResponse:
    """The task page: the entry's tabs (``document``: the reviewer's edits, else the proposal)."""
    doc = document if document is not None else view.proposal
    errors = errors or {}
    form = render_form(doc, errors, raw or {}) if doc is not None else None
    tabs = form.tabs if form is not None else []
    diff = view.diff
    if document is not None and view.live is not None:
        diff = diff_entries(view.live, document)
    context = {
        "session": session,
        "csrf": csrf,
        "task": view.task,
        "view": view,
        "tabs": tabs,
        "templates": form.templates if form is not None else {},
        "core_sections": core_sections(tabs[0]) if tabs else [],
        "read_only": read_only_fields(doc) if doc is not None else [],
        "diff": diff,
        "errors": [(dotted(p) or "entry", m) for p, m in errors.items()],
        "banner": banner,
        "reject_error": reject_error,
        "reason": reason,
        "details": view.task.details,
        "open": view.task.status is TaskStatus.PENDING and doc is not None,
    }
    return page("review/task.html", context, status=status)


def done_redirect(task: ReviewTask) -> RedirectResponse:
    return RedirectResponse(
        "/review?" + urlencode({"done": task.status.value, "task": task.task_id}), status_code=303
    )


async def approve_from_form(
    service: ReviewService,
    task_id: str,
    pairs: Sequence[tuple[str, str]],
    *,
    session: Session,
    csrf: str,
    base_version: int,
) -> Response:
    """Read the edited entry, validate it all (form and schema), and approve only if it is valid."""
    view = await service.view(task_id)
    if view.proposal is None:
        return task_page(
            view, session=session, csrf=csrf, banner=Banner("error", view.problem or ""), status=409
        )
    parsed = parse_form(pairs, base=view.proposal)
    errors = dict(parsed.errors)
    try:
        validate_entry(parsed.document, anime_id=view.task.anime_id)
    except EntryInvalid as exc:
        for problem in exc.errors:
            errors.setdefault(error_path(problem.path, parsed.document), problem.message)
    if not errors:
        try:
            task = await service.approve(
                task_id, by=session.name, document=parsed.document, base_version=base_version
            )
        except EntryInvalid as exc:  # cannot happen after the check above; kept for safety
            errors = {error_path(p.path, parsed.document): p.message for p in exc.errors}
        except TokenNotAccepted as exc:
            view = await service.view(task_id)
            return task_page(view, session=session, csrf=csrf, banner=Banner("error", str(exc)), status=410)
        except Retryable as exc:  # nothing was sent; the task is pending again
            return task_page(
                view,
                session=session,
                csrf=csrf,
                document=parsed.document,
                banner=Banner("error", f"{exc}; nothing was sent, try again"),
                status=503,
            )
        except Conflict as exc:  # TaskTaken, or the live entry moved on
            fresh = await service.view(task_id)
            keep = None if isinstance(exc, TaskTaken) else parsed.document
            return task_page(
                fresh, session=session, csrf=csrf, document=keep, banner=Banner("error", str(exc)), status=409
            )
        else:
            return done_redirect(task)
    count = len(errors)
    message = (
        f"{count} problem{'s' if count != 1 else ''} in the entry; nothing was sent. Fix the marked fields."
    )
    return task_page(
        view,
        session=session,
        csrf=csrf,
        document=parsed.document,
        errors=errors,
        raw=parsed.raw,
        banner=Banner("error", message),
        status=422,
    )


async def reject_from_form(
    service: ReviewService, task_id: str, reason: str, *, session: Session, csrf: str
) -> Response:
    try:
        task = await service.reject(task_id, by=session.name, reason=reason)
    except ReasonRequired as exc:
        view = await service.view(task_id)
        return task_page(view, session=session, csrf=csrf, reject_error=str(exc), status=422)
    except TokenNotAccepted as exc:
        view = await service.view(task_id)
        return task_page(view, session=session, csrf=csrf, banner=Banner("error", str(exc)), status=410)
    except TaskTaken as exc:
        view = await service.view(task_id)
        return task_page(view, session=session, csrf=csrf, banner=Banner("error", str(exc)), status=409)
    except Retryable as exc:
        view = await service.view(task_id)
        message = f"{exc}; nothing was sent, try again"
        return task_page(view, session=session, csrf=csrf, banner=Banner("error", message), status=503)
    return done_redirect(task)


def error_page(message: str, *, status: int, session: Session | None = None) -> HTMLResponse:
    return page(
        "review/error.html", {"message": message, "session": session, "status": status}, status=status
    )
