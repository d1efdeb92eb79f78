"""The review pages over HTTP: sign-in, the list, the task page, form approvals and rejections,
CSRF, escaping of third-party text, and what reviewers are told when they lose a race."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import httpx
from htmlform import form_pairs, replace
from review_kit import OPERATOR_KEY, REVIEWER_KEY, Review, Started, eventually, full_entry, post_form

from avs_api.review.model import TaskStatus
from avs_api.review.session import SESSION_COOKIE
from avs_shared.events import EntryApproved
from avs_shared.runtime import Worker
from avs_shared.topology import Q_INDEXER_ENTRY_APPROVED

XSS_SYNOPSIS = "<script>alert('synopsis')</script> Runners & <b>stars</b>"
XSS_NAME = '"><img src=x onerror=alert(1)>Aoi'


def _cookie(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


async def _open_task(review: Review, started: Started) -> tuple[str, str]:
    task = await review.task_of(started)
    page = await review.client.get(f"/review/tasks/{task.task_id}")
    assert page.status_code == 200, page.text
    return task.task_id, page.text


async def test_sign_in_gives_a_strict_http_only_session_and_never_stores_the_key(review: Review) -> None:
    to_login = await review.client.get("/review", params={"kind": "new"})
    assert to_login.status_code == 303
    assert to_login.headers["location"] == "/review/login?next=/review%3Fkind%3Dnew"

    form = await review.client.get("/review/login", params={"next": "/review?kind=new"})
    login_cookie = _cookie(form, "avs_review_login")
    assert "HttpOnly" in login_cookie and "SameSite=strict" in login_cookie.replace("Strict", "strict")
    pairs = dict(form_pairs(form.text.replace("<form method", '<form id="f" method', 1), "f"))

    wrong = await post_form(review.client, "/review/login", pairs | {"api_key": "avs_wrong"})
    assert wrong.status_code == 401 and "not valid for the review page" in wrong.text
    no_token = await post_form(review.client, "/review/login", {"api_key": REVIEWER_KEY, "next": "/review"})
    assert no_token.status_code == 403

    signed_in = await post_form(review.client, "/review/login", pairs | {"api_key": REVIEWER_KEY})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/review?kind=new"
    session = _cookie(signed_in, SESSION_COOKIE)
    attributes = session.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/review" in attributes
    assert "secure" not in attributes  # plain HTTP here; HTTPS requests (or the setting) add it
    assert REVIEWER_KEY not in session
    listing = await review.client.get("/review")
    assert listing.status_code == 200 and "rita" in listing.text

    # A tampered cookie is no session.
    value = SimpleCookie(session)[SESSION_COOKIE].value
    review.client.cookies.set(
        SESSION_COOKIE, value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1], path="/review"
    )
    assert (await review.client.get("/review")).status_code == 303


async def test_sign_in_only_returns_to_review_pages(review: Review) -> None:
    form = await review.client.get("/review/login", params={"next": "//evil.example/review"})
    pairs = dict(form_pairs(form.text.replace("<form method", '<form id="f" method', 1), "f"))
    assert pairs["next"] == "/review"
    signed_in = await post_form(
        review.client, "/review/login", pairs | {"api_key": REVIEWER_KEY, "next": "https://evil.example/"}
    )
    assert signed_in.headers["location"] == "/review"


async def test_the_list_page_filters_by_kind(review: Review, intake: Worker) -> None:
    await review.login()
    new = await review.start_review(full_entry(title="Brand New Show"))
    update = await review.start_review(full_entry(title="Airing Show"), kind="episode_update")
    await review.task_of(new)
    await review.task_of(update)
    everything = await review.client.get("/review")
    assert "Brand New Show" in everything.text and "Airing Show" in everything.text
    assert everything.headers["content-security-policy"].startswith("default-src 'none'")
    only_updates = await review.client.get("/review", params={"kind": "episode_update"})
    assert "Airing Show" in only_updates.text and "Brand New Show" not in only_updates.text
    assert 'aria-current="page">Episode update' in only_updates.text
    unknown = await review.client.get("/review", params={"kind": "bogus"})
    assert unknown.status_code == 400 and "unknown kind" in unknown.text


async def test_the_task_page_has_every_tab_and_a_diff_for_changed_entries(
    review: Review, intake: Worker
) -> None:
    live_doc = full_entry(title="Changing Show", episodes=3)
    await review.put_live(live_doc)
    proposal = dict(live_doc, episodes=4, status="ONGOING")
    proposal["episode_details"] = [*live_doc["episode_details"], {"episode_number": 4, "title": "New One"}]
    await review.login()
    started = await review.start_review(proposal, kind="episode_update")
    _, html = await _open_task(review, started)
    tabs = re.findall(r'role="tab" id="tab-(\w+)"[^>]*>([^<]+)', html)
    assert [title.strip() for _, title in tabs] == [
        "Core Info",
        "Characters",
        "Relationships",
        "Episodes",
        "Images",
        "Staff",
    ]
    diff = html[html.index('id="diff"') :]
    assert "episode_details[#4].title" in diff and "New One" in diff
    assert "<code>status</code></td><td>FINISHED</td><td>ONGOING</td>" in diff.replace("\n", "")
    assert 'name="characters.0.voice_actors.0.name"' in html  # nested lists are editable
    assert 'name="staff_data.production_staff.0.key"' in html  # maps are rows of name and value
    assert 'name="~extra"' in html  # unknown top-level fields (episode_overrides), as JSON
    assert 'name="_base_version" value="1"' in html  # the live version the reviewer sees


async def test_form_errors_are_shown_next_to_their_fields_and_nothing_is_sent(
    review: Review, intake: Worker
) -> None:
    await review.login()
    started = await review.start_review(full_entry(title="Needs Fixing"))
    task_id, html = await _open_task(review, started)
    pairs = form_pairs(html, "entry-form")
    pairs = replace(pairs, "episodes", "twelve")
    pairs = replace(pairs, "characters.0.name", "  ")
    pairs = replace(pairs, "~extra", "{not json")
    pairs = replace(pairs, "episode_details.0.aired", "yesterday")
    response = await post_form(review.client, f"/review/tasks/{task_id}/approve", pairs)
    assert response.status_code == 422
    page = response.text
    # Each message sits right after its field, which keeps what the reviewer typed.
    for name, typed, message in (
        ("episodes", "twelve", "is not a whole number"),
        ("characters.0.name", "  ", "required"),
        ("episode_details.0.aired", "yesterday", "datetime"),
    ):
        field = re.search(
            rf'<input type="text" id="f-{re.escape(name)}" name="{re.escape(name)}" value="{typed}"[^>]*'
            rf'aria-invalid="true"[^>]*>.*?<p class="error" id="e-{re.escape(name)}">([^<]*)</p>',
            page,
            re.S,
        )
        assert field is not None, name
        assert message in field.group(1), (name, field.group(1))
    assert "{not json</textarea>" in page and "not valid JSON" in page
    assert 'id="error-summary"' in page and "nothing was sent" in page
    assert 'data-errors="2"' in page  # the Core Info tab counts its problems
    # Nothing left the building.
    assert (await review.store.get(task_id)).status is TaskStatus.PENDING  # type: ignore[union-attr]
    assert await review.execution_status(started.execution_arn) == "RUNNING"
    assert await review.queue_is_empty(Q_INDEXER_ENTRY_APPROVED)


async def test_a_valid_form_approval_goes_out_with_the_edits(review: Review, intake: Worker) -> None:
    await review.login()
    started = await review.start_review(full_entry(title="Form Approval"))
    task_id, html = await _open_task(review, started)
    pairs = replace(form_pairs(html, "entry-form"), "characters.1.name", "Ren Kisaragi (renamed)")
    pairs += [("episode_details.7.episode_number", "4"), ("episode_details.7.title", "Added in the form")]
    response = await post_form(review.client, f"/review/tasks/{task_id}/approve", pairs)
    assert response.status_code == 303, response.text
    listing = await review.client.get(response.headers["location"])
    assert "Approved: Form Approval" in listing.text
    assert (
        await review.client.get("/review", params={"done": "approved", "task": "nope"})
    ).status_code == 200
    await review.execution(started.execution_arn, status="SUCCEEDED")
    [event] = await review.approved_events()
    stored = await review.stored_entry(EntryApproved.model_validate(event.payload).entry_ref)
    assert stored["characters"][1]["name"] == "Ren Kisaragi (renamed)"
    assert stored["episode_details"][-1] == {"episode_number": 4, "title": "Added in the form"}
    # Everything the reviewer did not touch is exactly as proposed.
    proposed = await review.stored_entry(started.entry_ref)
    stored["characters"][1]["name"] = proposed["characters"][1]["name"]
    stored["episode_details"].pop()
    assert stored == _without_nulls(proposed)


async def test_forms_without_a_valid_csrf_token_are_refused(review: Review, intake: Worker) -> None:
    await review.login()
    started = await review.start_review(full_entry())
    task_id, html = await _open_task(review, started)
    pairs = form_pairs(html, "entry-form")
    url = f"/review/tasks/{task_id}/approve"
    without = [(k, v) for k, v in pairs if k != "_csrf"]
    assert (await post_form(review.client, url, without)).status_code == 403
    forged = replace(pairs, "_csrf", "forged-token")
    refused = await post_form(review.client, url, forged)
    assert refused.status_code == 403 and "did not come from the review page" in refused.text
    cross_site = await post_form(review.client, url, pairs, headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    # Another session's token is no good either.
    async with httpx.AsyncClient(transport=review.client._transport, base_url="http://testserver") as other:
        await review.login(other, key=OPERATOR_KEY)
        other_page = await other.get(f"/review/tasks/{task_id}")
        other_token = dict(form_pairs(other_page.text, "entry-form"))["_csrf"]
    assert other_token != dict(pairs)["_csrf"]
    assert (await post_form(review.client, url, replace(pairs, "_csrf", other_token))).status_code == 403
    reject = await post_form(review.client, f"/review/tasks/{task_id}/reject", {"reason": "no"})
    assert reject.status_code == 403
    assert (await review.store.get(task_id)).status is TaskStatus.PENDING  # type: ignore[union-attr]
    assert await review.execution_status(started.execution_arn) == "RUNNING"
    # With the right token (and same-origin) it goes through.
    ok = await post_form(review.client, url, pairs, headers={"Origin": "http://testserver"})
    assert ok.status_code == 303


async def test_third_party_text_is_escaped_everywhere(review: Review, intake: Worker) -> None:
    entry = full_entry(title="<i>Escaped</i> Title", synopsis=XSS_SYNOPSIS)
    entry["characters"][0]["name"] = XSS_NAME
    entry["external_links"] = {"evil": "javascript:alert(1)", "site": "https://example.org/a?b=1&c=2"}
    await review.login()
    started = await review.start_review(entry)
    _, html = await _open_task(review, started)
    assert "<script>alert" not in html and "<img src=x" not in html and "<i>Escaped" not in html
    assert (
        "&lt;script&gt;alert(&#39;synopsis&#39;)&lt;/script&gt; Runners &amp; &lt;b&gt;stars&lt;/b&gt;"
        in html
    )
    assert 'value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;Aoi"' in html
    assert 'href="javascript:' not in html
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html  # real links stay links, escaped
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == [f'<script src="{s}" defer>' for s in re.findall(r'<script src="([^"]+)"', html)]
    listing = await review.client.get("/review")
    assert "&lt;i&gt;Escaped&lt;/i&gt; Title" in listing.text


async def test_reject_through_the_page_needs_a_reason(review: Review, intake: Worker) -> None:
    await review.login()
    started = await review.start_review(full_entry(title="To Reject"))
    task_id, html = await _open_task(review, started)
    csrf = dict(form_pairs(html, "reject-form"))["_csrf"]
    blank = await post_form(review.client, f"/review/tasks/{task_id}/reject", {"_csrf": csrf, "reason": " "})
    assert blank.status_code == 422 and 'id="reject-error"' in blank.text
    done = await post_form(
        review.client, f"/review/tasks/{task_id}/reject", {"_csrf": csrf, "reason": "duplicate"}
    )
    assert done.status_code == 303
    assert "Rejected: To Reject" in (await review.client.get(done.headers["location"])).text
    await review.execution(started.execution_arn, status="FAILED")
    await eventually(lambda: _gone(review, started.anime_id))


async def test_the_second_reviewer_is_told_who_won(review: Review, intake: Worker) -> None:
    await review.login()
    started = await review.start_review(full_entry(title="Contested"))
    task_id, html = await _open_task(review, started)
    pairs = form_pairs(html, "entry-form")
    async with httpx.AsyncClient(transport=review.client._transport, base_url="http://testserver") as other:
        await review.login(other, key=OPERATOR_KEY)
        other_pairs = form_pairs((await other.get(f"/review/tasks/{task_id}")).text, "entry-form")
        assert (await post_form(other, f"/review/tasks/{task_id}/approve", other_pairs)).status_code == 303
    late = await post_form(review.client, f"/review/tasks/{task_id}/approve", pairs)
    assert late.status_code == 409
    assert "already approved by otto" in late.text
    assert 'id="approve"' not in late.text  # no second approve button on a decided task
    assert len(await review.approved_events()) == 1


async def test_an_expired_review_is_reported_on_the_page(review: Review, intake: Worker) -> None:
    await review.login()
    started = await review.start_review(full_entry(title="Too Late"), timeout_seconds=2)
    task_id, html = await _open_task(review, started)
    await review.execution(started.execution_arn, status="FAILED", within=60)
    response = await post_form(
        review.client, f"/review/tasks/{task_id}/approve", form_pairs(html, "entry-form")
    )
    assert response.status_code == 410
    assert "can no longer be answered" in response.text and "Nothing was sent" in response.text
    assert 'id="task-status">expired<' in response.text


async def test_an_unknown_task_is_a_page_not_a_json_error(review: Review) -> None:
    await review.login()
    missing = await review.client.get("/review/tasks/no-such-task")
    assert missing.status_code == 404 and "no such review task" in missing.text
    assert missing.headers["content-type"].startswith("text/html")


async def test_static_assets_are_served_from_the_package(review: Review) -> None:
    script = await review.client.get("/review/static/review.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    cached = await review.client.get(
        "/review/static/review.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert cached.status_code == 304
    assert (await review.client.get("/review/static/../settings.py")).status_code == 404
    assert (await review.client.get("/review/static/missing.js")).status_code == 404
    login = await review.client.get("/review/login")
    src = re.search(r'<script src="([^"]+)"', login.text)
    assert src is not None and urlsplit(src.group(1)).path == "/review/static/review.js"


async def _gone(review: Review, anime_id: str) -> bool:
    return not await review.lock_exists(anime_id)


def _without_nulls(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
