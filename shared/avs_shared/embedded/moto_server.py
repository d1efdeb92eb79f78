"""The moto server of the embedded stack, with four of moto's per-value costs cut.

``python -m avs_shared.embedded.moto_server -H HOST -p PORT`` runs ``moto.server.main``
(the same Werkzeug app and options as ``python -m moto.server``) after patching four
code paths whose cost grows with the data in a way AWS's does not:

* **DynamoDB item size.** moto checks the 400 KB item limit in
  ``LimitedSizeDict.__setitem__`` by re-measuring every attribute already in the item,
  and ``Item.__init__`` sets the attributes one by one: building an item of ``a``
  top-level attributes measures the item ``a`` times, O(a x item size). Our entries
  have ~35 top-level attributes and ~470 nested values, so every write of an entry
  walked ~16,000 values. The patched ``Item.__init__`` measures each attribute once
  and raises the same ``ItemSizeTooLarge`` at the same total (405,000 bytes, moto's
  figure). Later single-attribute updates keep moto's own check.
* **DynamoDB request parsing.** moto parses every request against the service model,
  one model lookup per member per nested attribute value (~470 values per entry, ten
  members each). Attribute values holding only strings, numbers, booleans, nulls,
  maps and lists come back exactly as that walk returns them, so they are copied
  directly; anything else (binary, malformed) still goes through moto's parser.
* **SQS queue attributes.** ``SendMessage`` reads ``queue.attributes`` to look up one
  flag; that property builds every attribute: it converts each name from CamelCase
  with a regular expression (pure, so memoised here) and counts the queue's messages
  three times, reading the clock twice per message through ``datetime`` (here: once
  per count). A send into a queue of depth ``d`` cost ~6 ``d`` clock readings, a
  quarter of moto's CPU during a bulk load whose image requests pile up between
  consumer polls.

Both keep moto's behaviour (``tests/shared/test_moto_server_patches.py`` checks the
limits and results against the unpatched code paths); they only remove emulator
overhead that would otherwise dominate the CPU profile of a bulk load on the
embedded stack (``bench/indexing.py``). A moto release that changes these internals
is detected: the patch is skipped with a line on stderr and moto runs unpatched.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

# moto's figure for the item limit (AWS documents 400 KB; moto measured 409-410 KB).
ITEM_SIZE_LIMIT = 405_000


def _patch_dynamodb_item() -> str | None:
    """Make ``Item.__init__`` measure each attribute once. Returns why not, or None."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    item_cls = getattr(dynamo_type, "Item", None)
    limited = getattr(dynamo_type, "LimitedSizeDict", None)
    dynamo = getattr(dynamo_type, "DynamoType", None)
    if item_cls is None or limited is None or dynamo is None or not hasattr(dynamo, "size"):
        return "moto.dynamodb.models.dynamo_type no longer has Item, LimitedSizeDict and DynamoType.size"

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        built = limited()
        total = 0
        for key, value in attrs.items():
            typed = dynamo(value)
            total += bytesize(key) + typed.size()
            if total > ITEM_SIZE_LIMIT:
                raise ItemSizeTooLarge
            dict.__setitem__(built, key, typed)  # measured above: skip the re-measuring setter
        self.attrs = built

    item_cls.__init__ = __init__
    return None


def _patch_sqs_attribute_names() -> str | None:
    """Memoise the CamelCase -> snake_case conversion ``Queue.attributes`` runs per name."""
    from moto.sqs import models

    convert: Callable[[str], str] | None = getattr(models, "camelcase_to_underscores", None)
    if convert is None:
        return "moto.sqs.models no longer imports camelcase_to_underscores"
    models.camelcase_to_underscores = functools.lru_cache(maxsize=256)(convert)  # type: ignore[attr-defined]
    return None


_LEAVES = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS"})


def _plain_attribute(value: Any) -> Any:
    """``value`` (a wire attribute value) as moto's parser would return it, or None.

    None when it holds anything but one of S/N/BOOL/NULL/SS/NS/M/L per value (a binary
    needs base64 decoding, and a malformed value moto's own parser must judge).
    """
    if type(value) is not dict or len(value) != 1:
        return None
    ((tag, inner),) = value.items()
    if tag in _LEAVES:
        return value
    if tag == "M" and type(inner) is dict:
        out: dict[str, Any] = {}
        for key, item in inner.items():
            parsed = _plain_attribute(item)
            if parsed is None:
                return None
            out[key] = parsed
        return {"M": out}
    if tag == "L" and type(inner) is list:
        items = []
        for item in inner:
            parsed = _plain_attribute(item)
            if parsed is None:
                return None
            items.append(parsed)
        return {"L": items}
    return None


def _patch_json_attribute_values() -> str | None:
    """Parse DynamoDB attribute values without walking the service model per value."""
    from moto.core import parse

    parser = getattr(parse, "BaseJSONParser", None)
    original = getattr(parser, "_parse_structure", None)
    if parser is None or original is None:
        return "moto.core.parse no longer has BaseJSONParser._parse_structure"

    def _parse_structure(self: Any, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue":
            plain = _plain_attribute(value)
            if plain is not None:
                return plain
        return original(self, shape, value)

    parser._parse_structure = _parse_structure
    return None


def _patch_sqs_message_counts() -> str | None:
    """Count a queue's messages against one clock reading instead of two per message."""
    from moto.core.utils import unix_time_millis
    from moto.sqs import models

    queue = getattr(models, "Queue", None)
    message = getattr(models, "Message", None)
    names = (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    )
    if (
        queue is None
        or message is None
        or not all(isinstance(getattr(queue, n, None), property) for n in names)
    ):
        return "moto.sqs.models.Queue no longer has the approximate_number_of_messages* properties"
    probe = message.__init__.__code__.co_names
    if "visible_at" not in probe or "delayed_until" not in probe:
        return "moto.sqs.models.Message no longer keeps visible_at / delayed_until"

    # The same tests as Message.visible / Message.delayed, with the time read once.
    def visible_now(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if now > m.visible_at and not now < m.delayed_until)

    def delayed(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    queue.approximate_number_of_messages = property(visible_now)
    queue.approximate_number_of_messages_delayed = property(delayed)
    queue.approximate_number_of_messages_not_visible = property(not_visible)
    return None


PATCHES: dict[str, Callable[[], str | None]] = {
    "dynamodb-item-size": _patch_dynamodb_item,
    "sqs-attribute-names": _patch_sqs_attribute_names,
    "dynamodb-attribute-values": _patch_json_attribute_values,
    "sqs-message-counts": _patch_sqs_message_counts,
}


def apply_patches() -> dict[str, str]:
    """Apply every patch that fits this moto; returns the skipped ones with the reason."""
    skipped: dict[str, str] = {}
    for name, patch in PATCHES.items():
        try:
            reason = patch()
        except (ImportError, AttributeError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        if reason is not None:
            skipped[name] = reason
    return skipped


def main(argv: list[str] | None = None) -> None:
    for name, reason in apply_patches().items():
        print(f"avs moto_server: patch {name} skipped, moto runs unpatched there ({reason})", file=sys.stderr)
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
