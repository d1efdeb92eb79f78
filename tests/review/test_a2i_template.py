"""The A2I worker template (``infra/a2i/review-task.liquid``), rendered with a Liquid engine the
way A2I renders it: ``task.input`` from the human loop's input, every output HTML-escaped, and
A2I's own ``to_json`` / ``skip_autoescape`` / ``grant_read_access`` filters."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from liquid import Environment
from markupsafe import Markup
from review_kit import full_entry

from avs_api.review.diff import diff_entries

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "a2i" / "review-task.liquid"
SCRIPT_SYNOPSIS = "<script>alert('a2i')</script> Three runners & a sky"


def a2i_environment() -> Environment:
    env = Environment(autoescape=True)
    env.filters["to_json"] = lambda value: json.dumps(value, ensure_ascii=False)
    env.filters["skip_autoescape"] = lambda value: Markup(str(value))
    env.filters["grant_read_access"] = lambda value: value  # A2I presigns S3 URLs; nothing to do here
    return env


class _Inspector(HTMLParser):
    """Tabs, inputs (by data-field) and the hidden entry data of the rendered page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tabs: list[str] = []
        self.values: dict[str, list[str]] = {}
        self.entry_data: str | None = None
        self.scripts: list[dict[str, str | None]] = []
        self._textarea: str | None = None
        self._text: list[str] = []
        self._in_template = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "template":
            self._in_template += 1
        elif tag == "crowd-tab":
            self.tabs.append(str(a.get("header")))
        elif tag == "script":
            self.scripts.append(a)
        elif tag == "input" and a.get("id") == "avs-entry-data":
            self.entry_data = a.get("value")
        elif tag == "input" and a.get("data-field") and not self._in_template:
            self.values.setdefault(str(a["data-field"]), []).append(str(a.get("value") or ""))
        elif tag == "textarea" and a.get("data-field") and not self._in_template:
            self._textarea, self._text = str(a["data-field"]), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self._in_template -= 1
        elif tag == "textarea" and self._textarea is not None:
            self.values.setdefault(self._textarea, []).append("".join(self._text))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)


@pytest.fixture(scope="module")
def rendered() -> tuple[str, dict[str, Any]]:
    live = full_entry(title="Hoshizora Relay")
    entry = dict(live, synopsis=SCRIPT_SYNOPSIS, status="ONGOING")
    entry["characters"][1]["name"] = 'Ren "The Anchor" <Kisaragi>'
    task_input = {
        "anime_id": entry["id"],
        "kind": "episode_update",
        "reason": "episode 4 aired",
        "entry": entry,
        "live_entry": live,
        "diff": [row.public() for row in diff_entries(live, entry)],
    }
    template = a2i_environment().from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(task={"input": task_input}), entry


def test_it_has_the_same_tabs_as_the_review_page(rendered: tuple[str, dict[str, Any]]) -> None:
    html, _ = rendered
    page = _Inspector()
    page.feed(html)
    assert page.tabs == ["Core Info", "Characters", "Relationships", "Episodes", "Images", "Staff"]
    assert "<crowd-form>" in html and html.count("<crowd-tab ") == 6


def test_fields_of_the_entry_are_editable_inputs(rendered: tuple[str, dict[str, Any]]) -> None:
    html, entry = rendered
    page = _Inspector()
    page.feed(html)
    assert page.values["title"][0] == entry["title"]
    assert page.values["name"][:2] == [c["name"] for c in entry["characters"]]
    assert page.values["episode_number"] == [str(e["episode_number"]) for e in entry["episode_details"]]
    assert page.values["relation_type"] == [
        r["relation_type"] for r in entry["related_anime"] + entry["relations"]
    ]
    assert page.values["genres"] == ["Sports\nDrama\n"]
    assert page.values["covers"] == [
        "https://img.example.org/anime/hsr-cover.jpg\n"
    ]  # the placeholder stays out
    assert page.values["synopsis"][0] == SCRIPT_SYNOPSIS  # decoded by the parser: the text itself
    # Lists can grow and shrink.
    assert html.count('class="avs-add"') == 7 and 'class="avs-remove"' in html
    assert "status</td><td>FINISHED</td><td>ONGOING</td>" in html.replace("\n", "").replace("    ", "")


def test_third_party_text_is_escaped_and_the_entry_round_trips(rendered: tuple[str, dict[str, Any]]) -> None:
    html, entry = rendered
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;a2i&#39;)&lt;/script&gt;" in html
    assert "&lt;Kisaragi&gt;" in html and 'Ren "The' not in html
    page = _Inspector()
    page.feed(html)
    # The only scripts: the crowd elements loader and the template's own code (no src).
    assert [s.get("src") for s in page.scripts] == ["https://assets.crowd.aws/crowd-html-elements.js", None]
    assert page.entry_data is not None and json.loads(page.entry_data) == entry
    assert not re.search(r"\{\{|\{%", html)  # every Liquid tag was rendered
