"""Only GraphQL *queries* go to AniList: a small lexer that finds a document's operations.

graphql-core is not a dependency, and a full parser is not needed: the kind of every
top-level definition is visible from its first token, once strings, block strings and
comments are lexed properly (so ``"mutation"`` in a string or ``# mutation`` in a comment
is not a definition). A definition runs until the selection set that started at the top
level closes; braces inside its variable definitions or directive arguments (object
default values) sit inside parentheses and do not end it.

Accepted: ``query`` operations, anonymous ``{ ... }`` operations and ``fragment``s,
with at least one operation. Rejected: ``mutation``, ``subscription``, type-system
definitions and extensions, and anything the lexer cannot read. A document that is
lexically valid but not well-formed is left to AniList to reject; it runs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_IGNORED = frozenset(" \t\n\r,\ufeff")
_PUNCTUATORS = frozenset("!$&()[]{}:=@|")
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())


class GraphQLRejected(ValueError):
    """The document is not a query-only GraphQL document; the message says why."""


def _is_name_start(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_name_continue(c: str) -> bool:
    return _is_name_start(c) or ("0" <= c <= "9")


def tokens(source: str) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` for each significant token; kinds: name, punct, string, number."""
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c in _IGNORED:
            i += 1
        elif c == "#":
            while i < n and source[i] not in "\n\r":
                i += 1
        elif c in _PUNCTUATORS:
            yield "punct", c
            i += 1
        elif c == ".":
            if not source.startswith("...", i):
                raise GraphQLRejected(f"unexpected '.' at offset {i}")
            yield "punct", "..."
            i += 3
        elif _is_name_start(c):
            j = i + 1
            while j < n and _is_name_continue(source[j]):
                j += 1
            yield "name", source[i:j]
            i = j
        elif c == "-" or "0" <= c <= "9":
            j = i + 1
            while j < n and (_is_name_continue(source[j]) or source[j] in ".+-"):
                j += 1
            yield "number", source[i:j]
            i = j
        elif source.startswith('"""', i):
            j = _block_string_end(source, i + 3)
            yield "string", source[i:j]
            i = j
        elif c == '"':
            j = _string_end(source, i + 1)
            yield "string", source[i:j]
            i = j
        else:
            raise GraphQLRejected(f"unexpected character {c!r} at offset {i}")


def _string_end(source: str, i: int) -> int:
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        elif c in "\n\r":
            break
        else:
            i += 1
    raise GraphQLRejected("unterminated string")


def _block_string_end(source: str, i: int) -> int:
    while True:
        k = source.find('"""', i)
        if k == -1:
            raise GraphQLRejected("unterminated block string")
        if source[k - 1] != "\\":  # \""" is an escaped triple quote inside a block string
            return k + 3
        i = k + 3


def check_query_only(document: str, *, max_depth: int = 16) -> list[str]:
    """The kinds of the document's definitions, if it only reads; else ``GraphQLRejected``.

    ``max_depth`` bounds the nesting of selection sets (and lists, arguments).
    """
    toks = list(tokens(document))
    kinds: list[str] = []
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        if kind == "punct" and text == "{":
            definition = "query"  # the anonymous shorthand
        elif kind == "name" and text in {"query", "fragment"}:
            definition = text
            i += 1
        elif kind == "name" and text in {"mutation", "subscription"}:
            raise GraphQLRejected(f"{text} operations are not allowed: the proxy only reads")
        else:
            raise GraphQLRejected(
                f"unexpected {text!r} at the top level: only query operations and fragments are allowed"
            )
        i = _end_of_definition(toks, i, definition, max_depth)
        kinds.append(definition)
    if "query" not in kinds:
        raise GraphQLRejected("the document has no query operation")
    return kinds


def _end_of_definition(toks: list[tuple[str, str]], i: int, definition: str, max_depth: int) -> int:
    """The index after the definition whose header starts at ``i``.

    The header (before the selection set) must have the shape of its kind, so nothing
    can hide in a malformed one: ``query Name($v: T) @dir(a: 1)``, ``fragment F on T @dir``.
    """
    stack: list[str] = []
    header: list[str] = []  # N: a name, P: a parenthesised group, @: a directive
    names: list[str] = []
    while i < len(toks):
        kind, text = toks[i]
        i += 1
        if not stack and not _header_done(header):
            if kind == "name":
                header.append("N")
                names.append(text)
                continue
            if text == "@":
                header.append("@")
                continue
            if text == "{":
                _check_header(definition, "".join(header), names)
                header.append("{")
            elif text == "(":
                header.append("P")
            else:
                raise GraphQLRejected(f"unexpected {text!r} before the selection set of a {definition}")
        if kind != "punct":
            continue
        if text in _OPENERS:
            stack.append(_OPENERS[text])
            if len(stack) > max_depth:
                raise GraphQLRejected(f"the document nests deeper than {max_depth} levels")
        elif text in _CLOSERS:
            if not stack or stack.pop() != text:
                raise GraphQLRejected(f"unbalanced {text!r}")
            if not stack and _header_done(header):
                return i
    raise GraphQLRejected(f"a {definition} has no complete selection set")


def _header_done(header: list[str]) -> bool:
    return bool(header) and header[-1] == "{"


_QUERY_HEADER = re.compile(r"N?P?(@NP?)*")
_FRAGMENT_HEADER = re.compile(r"NNN(@NP?)*")


def _check_header(definition: str, shape: str, names: list[str]) -> None:
    if definition == "fragment":
        ok = bool(_FRAGMENT_HEADER.fullmatch(shape)) and names[1] == "on"
    else:
        ok = bool(_QUERY_HEADER.fullmatch(shape))
    if not ok:
        raise GraphQLRejected(f"a malformed {definition} header")
