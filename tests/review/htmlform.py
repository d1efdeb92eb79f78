"""What a browser would submit for a form of a rendered page (for tests, stdlib only).

Collects the successful controls of ``<form id=...>`` in document order: inputs (text,
hidden, password; checkboxes only when checked), textareas (one leading newline dropped,
as the HTML parser does) and selects (the selected option, else the first). Content of
``<template>`` elements is inert and skipped, as in a browser.
"""

from __future__ import annotations

from html.parser import HTMLParser


class _FormParser(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.in_form = False
        self.template_depth = 0
        self.pairs: list[tuple[str, str]] = []
        self._textarea: tuple[str, list[str]] | None = None
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._option: tuple[str | None, bool, list[str]] | None = None
        self.errors: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.in_form = True
            return
        if tag == "template":
            self.template_depth += 1
            return
        if not self.in_form or self.template_depth:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            self.pairs.append((name, a.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = (name, [])
        elif tag == "select" and name:
            self._select = (name, [])
        elif tag == "option" and self._select is not None:
            self._option = (a.get("value"), "selected" in a, [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self.template_depth -= 1
        elif tag == "form" and self.in_form and not self.template_depth:
            self.in_form = False
        elif tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)
            self.pairs.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "option" and self._option is not None and self._select is not None:
            value, selected, parts = self._option
            self._select[1].append((value if value is not None else "".join(parts), selected))
            self._option = None
        elif tag == "select" and self._select is not None:
            name, options = self._select
            chosen = next((v for v, s in options if s), options[0][0] if options else "")
            self.pairs.append((name, chosen))
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        elif self._option is not None:
            self._option[2].append(data)


def form_pairs(html: str, form_id: str) -> list[tuple[str, str]]:
    """The (name, value) pairs the form ``form_id`` of ``html`` submits."""
    parser = _FormParser(form_id)
    parser.feed(html)
    parser.close()
    return parser.pairs


def replace(pairs: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    """``pairs`` with the value of ``name`` changed (it must be there)."""
    assert any(k == name for k, _ in pairs), f"the form has no field {name!r}"
    return [(k, value if k == name else v) for k, v in pairs]
