"""The entry form without a server: render, submit what a browser would, read it back.

No AWS here: the page is rendered by the same functions the route uses, and the
submitted pairs are what ``htmlform`` (a browser's rules for successful controls) reads
from that HTML.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from htmlform import form_pairs, replace
from review_kit import full_entry

from avs_api.auth import Principal
from avs_api.review.diff import diff_entries
from avs_api.review.form import error_path, form_tree, parse_form
from avs_api.review.form_render import pattern_of
from avs_api.review.model import ReviewTask, TaskSource
from avs_api.review.pages import task_page
from avs_api.review.service import EntryInvalid, TaskView, validate_entry
from avs_api.review.session import Session, SessionCodec
from avs_shared.events import ReviewKind
from avs_shared.schema import AnimeEntry


def _page(doc: dict[str, Any], live: dict[str, Any] | None = None) -> str:
    task = ReviewTask(
        task_id="task-1",
        source=TaskSource.STEP_FUNCTIONS,
        kind=ReviewKind.NEW,
        anime_id=doc["id"],
        created_at="2026-01-01T00:00:00.000000Z",
        correlation_id="c",
        request_event_id="e",
    )
    view = TaskView(task, doc, live, 1 if live else 0)
    response = task_page(view, session=Session("rita", "reviewer", "sid", 2**40), csrf="token")
    return bytes(response.body).decode()


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@pytest.fixture(scope="module")
def entry() -> dict[str, Any]:
    return full_entry("0b4f6c1e-7a52-4d8e-9a3b-2f1d6e8c9a01")


@pytest.fixture(scope="module")
def submitted(entry: dict[str, Any]) -> list[tuple[str, str]]:
    return form_pairs(_page(entry), "entry-form")


def test_an_untouched_form_gives_back_the_entry_it_showed(
    entry: dict[str, Any], submitted: list[tuple[str, str]]
) -> None:
    parsed = parse_form(submitted, base=entry)
    assert parsed.errors == {}
    # Exactly the same document, empty texts, empty lists, unknown keys, numbers-as-text and
    # all; only explicit nulls (the same as absent for the schema) are not repeated.
    assert parsed.document == _without_nulls(entry)
    assert AnimeEntry.from_json_dict(parsed.document) == AnimeEntry.from_json_dict(entry)
    characters = parsed.document["characters"]
    assert characters[0]["age"] == "16" and characters[1]["age"] == 17  # text stays text, numbers numbers
    assert characters[0]["character_ids"] == {"mal": 880001, "anilist": 880002, "kitsu": "aoi-hoshino"}
    assert parsed.document["episode_details"][1]["title"] == ""  # an empty title is not a missing one
    assert parsed.document["characters"][1]["images"] == []


def test_controls_are_not_entry_data(submitted: list[tuple[str, str]]) -> None:
    names = dict(submitted)
    assert names["_csrf"] == "token" and names["_base_version"] == "0"
    assert "_csrf" not in form_tree(submitted)


def test_edits_added_and_removed_rows_come_back_in_order(
    entry: dict[str, Any], submitted: list[tuple[str, str]]
) -> None:
    pairs = replace(submitted, "characters.0.name", "Aoi (edited)")
    # The browser removed episode 2 (index 1) and added one with a fresh index.
    pairs = [(k, v) for k, v in pairs if not k.startswith("episode_details.1.")]
    pairs += [("episode_details.9.episode_number", "4"), ("episode_details.9.title", "Fourth")]
    pairs += [("genres.5", "Comedy"), ("genres.6", "   ")]  # a blank row is no genre
    pairs += [("external_links.3.key", "homepage"), ("external_links.3.value", "https://example.org")]
    parsed = parse_form(pairs, base=entry)
    assert parsed.errors == {}
    doc = parsed.document
    assert doc["characters"][0]["name"] == "Aoi (edited)"
    assert [e["episode_number"] for e in doc["episode_details"]] == [1, 3, 4]
    assert doc["episode_details"][-1] == {"episode_number": 4, "title": "Fourth"}
    assert doc["genres"] == ["Sports", "Drama", "Comedy"]
    assert doc["external_links"]["homepage"] == "https://example.org"
    validate_entry(doc, anime_id=entry["id"])


def test_problems_are_reported_by_path_and_keep_what_was_typed(
    entry: dict[str, Any], submitted: list[tuple[str, str]]
) -> None:
    pairs = replace(submitted, "episodes", "12.5")
    pairs = replace(pairs, "characters.1.role", "")
    pairs = replace(pairs, "statistics.0.value.score", "high")
    pairs = replace(pairs, "episode_details.0.filler", "maybe")
    pairs = replace(pairs, "~extra", "[1, 2]")
    pairs += [("external_links.4.key", "official"), ("external_links.4.value", "https://dup.example")]
    pairs += [("external_links.5.key", ""), ("external_links.5.value", "https://nokey.example")]
    parsed = parse_form(pairs, base=entry)
    assert parsed.errors == {
        ("episodes",): "'12.5' is not a whole number",
        ("characters", 1, "role"): "required: fill it in",
        ("statistics", "mal", "score"): "'high' is not a number",
        ("episode_details", 0, "filler"): "choose yes or no",
        ("~extra",): "other fields must be a JSON object ({...})",
        ("external_links", "official"): "'official' appears twice; keep one",
        ("external_links",): "every row needs a name (key); fill it in or remove the row",
    }
    assert parsed.document["episodes"] == "12.5"  # shown again as typed
    page = _page_with(entry, parsed.document, parsed.errors)
    assert 'value="12.5"' in page and "is not a whole number" in page


def test_an_optional_object_left_blank_disappears_without_complaints(
    entry: dict[str, Any], submitted: list[tuple[str, str]]
) -> None:
    pairs = [(k, "" if k.startswith("score.") else v) for k, v in submitted]
    parsed = parse_form(pairs, base=entry)
    assert parsed.errors == {}
    assert "score" not in parsed.document
    half = replace(submitted, "score.median", "")
    assert parse_form(half, base=entry).errors == {("score", "median"): "required: fill it in"}


def test_schema_errors_land_on_the_fields_they_are_about(entry: dict[str, Any]) -> None:
    doc = copy.deepcopy(entry)
    doc["images"]["covers"][1] = {"image_url": "https://img.example.org/x.jpg"}  # no error_message
    doc["episode_details"][0]["aired"] = "2021-04-06 15:00"  # no time zone
    doc["type"] = "SERIES"
    with pytest.raises(EntryInvalid) as caught:
        validate_entry(doc, anime_id=entry["id"])
    paths = {error_path(e.path, doc) for e in caught.value.errors}
    assert {("type",), ("episode_details", 0, "aired"), ("images", "covers", 1, "error_message")} <= paths
    with pytest.raises(EntryInvalid) as other:
        validate_entry(doc | {"id": "another"}, anime_id=entry["id"])
    assert other.value.errors[0].path == ("id",)


def test_lists_share_one_blank_item_per_shape(entry: dict[str, Any]) -> None:
    assert pattern_of("characters.3.voice_actors") == "characters.__i0__.voice_actors"
    assert pattern_of("staff_data.production_staff.1.value") == "staff_data.production_staff.__i0__.value"
    assert pattern_of("characters.__i0__.images") == "characters.__i0__.images"
    page = _page(entry)
    assert page.count('data-pattern="characters.__i0__.voice_actors"') == 1
    assert page.count('data-list data-name="characters.') >= 2 * 8  # two characters, eight lists each


def test_the_diff_matches_episodes_by_number_and_characters_by_name(entry: dict[str, Any]) -> None:
    proposed = copy.deepcopy(entry)
    proposed["episode_details"].insert(1, {"episode_number": 5, "title": "Recap special"})
    proposed["characters"].reverse()
    proposed["status"] = "ONGOING"
    proposed["version"] = 7  # bookkeeping, not content
    rows = {(r.path, r.change) for r in diff_entries(entry, proposed)}
    assert ("status", "changed") in rows
    assert ("episode_details[#5].episode_number", "added") in rows
    assert not any(path.startswith("characters") for path, _ in rows)  # reordered, not changed
    assert len([r for r in rows if r[0].startswith("episode_details")]) == 2


def test_sessions_are_signed_expire_and_have_their_own_csrf_token() -> None:
    codec = SessionCodec(b"0123456789abcdef0123", ttl_s=60)
    cookie, session = codec.issue(Principal("rita", "reviewer"), now=1000)
    assert codec.read(cookie, now=1059) == session
    assert codec.read(cookie, now=1061) is None  # expired
    body, signature = cookie.split(".")
    assert codec.read(f"{body}x.{signature}", now=1000) is None
    assert codec.read(cookie, now=1000) is not None
    assert SessionCodec(b"another-secret-of-16+", ttl_s=60).read(cookie, now=1000) is None
    _, other = codec.issue(Principal("otto", "operator"), now=1000)
    assert codec.csrf_ok(session, codec.csrf_token(session))
    assert not codec.csrf_ok(session, codec.csrf_token(other))
    assert not codec.csrf_ok(session, None) and not codec.csrf_ok(session, "")
    assert codec.login_ok("nonce", codec.login_token("nonce")) and not codec.login_ok(
        "nonce", codec.login_token("x")
    )
    with pytest.raises(ValueError):
        SessionCodec(b"short", ttl_s=60)


def _page_with(entry: dict[str, Any], doc: dict[str, Any], errors: dict[Any, str]) -> str:
    task = ReviewTask(
        task_id="task-1",
        source=TaskSource.STEP_FUNCTIONS,
        kind=ReviewKind.NEW,
        anime_id=entry["id"],
        created_at="2026-01-01T00:00:00.000000Z",
        correlation_id="c",
        request_event_id="e",
    )
    view = TaskView(task, entry, None, 0)
    response = task_page(
        view, session=Session("rita", "reviewer", "sid", 2**40), csrf="token", document=doc, errors=errors
    )
    return bytes(response.body).decode()
