"""The moto server of the embedded stack: keep-alive, and moto's per-value costs cut.

``python -m avs_shared.embedded.moto_server -H HOST -p PORT`` serves moto's own WSGI
app (``DomainDispatcherApplication(create_backend_app)``, ``debug`` on, the options,
``MOTO_PORT`` and SIGTERM/SIGINT handling of ``python -m moto.server``) over HTTP/1.1
keep-alive, after patching moto where its cost grows with the data in a way AWS's
does not, or repeats per request what cannot change.

**The server** is :class:`~avs_shared.embedded.moto_keepalive.KeepAliveHandler`
(see that module for why and what it costs). ``-r``/``--reload`` falls back to
moto's own server, which has werkzeug's reloader.
The per-request access log line is off (errors are still logged);
``AVS_MOTO_REQUEST_LOG=1`` turns it back on.

**The patches.**

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
* **Garbage collection.** Not a patch: the server runs with :data:`GC_THRESHOLDS`
  instead of Python's defaults (half of moto's CPU on DynamoDB writes was collection).
* **SQS queue attributes.** ``SendMessage`` reads ``queue.attributes`` to look up one
  flag; that property builds every attribute: it converts each name from CamelCase
  with a regular expression (pure, so memoised here) and counts the queue's messages
  three times, reading the clock twice per message through ``datetime`` (here: once
  per count). A send into a queue of depth ``d`` cost ~6 ``d`` clock readings, a
  quarter of moto's CPU during a bulk load whose image requests pile up between
  consumer polls.
* **Routing.** Per request, moto resolved its routing host to a backend by listing
  its package directory and matching URL regexes (~15 % of moto's CPU on small
  calls), and listed the response class's methods with ``inspect.getmembers`` (~8 %).
  Both answers depend only on the host / the class, so they are memoised.

All keep moto's behaviour (``tests/shared/test_moto_server_patches.py`` checks the
limits and results against the unpatched code paths,
``tests/shared/test_moto_server_keepalive.py`` the server and the memos); they only
remove emulator overhead that would otherwise dominate the CPU profile of a bulk load
on the embedded stack (``bench/indexing.py``). A moto release that changes these
internals is detected: the patch is skipped with a line on stderr and moto runs
unpatched there.
"""

from __future__ import annotations

import argparse
import functools
import gc
import inspect
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from avs_shared.embedded.moto_keepalive import KeepAliveHandler

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


def _patch_dispatcher_backend_memo() -> str | None:
    """Memoise ``DomainDispatcherApplication.get_backend_for_host`` per host name.

    moto routes every request by building a host name (from the path, the SigV4
    credential scope, X-Amz-Target, ...) and then resolving it to a backend: a listing
    of moto's package directory (``os.listdir`` plus an ``isdir`` per entry) and, for
    most hosts, a walk over a few hundred URL regexes. That resolution reads only the
    host, the installed package and the URL patterns fixed at start, so its answer for
    a host never changes; the host building itself (which may read the body) still runs
    per request. Unresolved hosts are not memoised (moto prints a hint for those).
    """
    from moto.moto_server import werkzeug_app

    dispatcher = getattr(werkzeug_app, "DomainDispatcherApplication", None)
    original = getattr(dispatcher, "get_backend_for_host", None)
    if dispatcher is None or original is None:
        return "moto.moto_server.werkzeug_app.DomainDispatcherApplication.get_backend_for_host is gone"
    if list(inspect.signature(original).parameters) != ["self", "host"]:
        return "DomainDispatcherApplication.get_backend_for_host no longer takes only the host"
    if not set(original.__code__.co_names) <= _BACKEND_FOR_HOST_READS:
        return "DomainDispatcherApplication.get_backend_for_host reads more than modules and URL patterns"

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        memo: dict[str, Any] = self.__dict__.setdefault("_avs_backend_for_host", {})
        if host is not None and host in memo:
            return memo[host]
        backend = original(self, host)
        if host is not None and backend is not None and len(memo) < _BACKEND_MEMO_SIZE:
            memo[host] = backend
        return backend

    dispatcher.get_backend_for_host = get_backend_for_host
    return None


# What moto 5.x's get_backend_for_host reads; anything more and the memo is skipped.
_BACKEND_FOR_HOST_READS = frozenset(
    {"backends", "list_of_moto_modules", "backend_url_patterns", "match", "print"}
)
# Hosts are built from a service and a region: a few dozen in practice.
_BACKEND_MEMO_SIZE = 4096


def _patch_method_names_memo() -> str | None:
    """Memoise the per-class method listing ``BaseResponse.call_action`` builds per request.

    ``call_action`` checks ``action in method_names_from_class(type(self))``, an
    ``inspect.getmembers`` over the whole response class (a few hundred attributes)
    on every call. The functions of a class do not change while moto runs, so the
    answer is computed once per class, as a frozenset (the only use is ``in``).
    """
    from moto.core import responses, utils

    original = getattr(responses, "method_names_from_class", None)
    if original is None or original is not getattr(utils, "method_names_from_class", None):
        return "moto.core.responses no longer uses moto.core.utils.method_names_from_class"
    if not callable(original):
        return "moto.core.responses.method_names_from_class is not a function"
    if "method_names_from_class" not in responses.BaseResponse.call_action.__code__.co_names:
        return "BaseResponse.call_action no longer calls method_names_from_class"
    listing: Callable[[object], list[str]] = original

    @functools.cache
    def method_names_from_class(clazz: object) -> frozenset[str]:
        return frozenset(listing(clazz))

    responses.method_names_from_class = method_names_from_class  # type: ignore[attr-defined,assignment]
    return None


PATCHES: dict[str, Callable[[], str | None]] = {
    "dynamodb-item-size": _patch_dynamodb_item,
    "sqs-attribute-names": _patch_sqs_attribute_names,
    "dynamodb-attribute-values": _patch_json_attribute_values,
    "sqs-message-counts": _patch_sqs_message_counts,
    "dispatcher-backend-memo": _patch_dispatcher_backend_memo,
    "response-method-names-memo": _patch_method_names_memo,
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


#: The cyclic garbage collector's thresholds in the emulator. moto keeps every stored item
#: as Python objects (~470 ``DynamoType`` per entry here: millions after a bulk load) and
#: allocates thousands of objects per request; at Python's default (700, 10, 10) it ran a
#: young collection every 700 allocations and an older one every 7,000, about half of
#: its CPU on DynamoDB writes. Measured side by side, BatchWriteItem of 8,000 entries:
#: 1.75 -> 0.95 ms of moto CPU per entry. Request garbage is freed by reference counting;
#: the rare cycles wait a little longer.
GC_THRESHOLDS = (100_000, 50, 100)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """moto.server's command line (same options, same defaults)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", type=str, help="Which host to bind", default="127.0.0.1")
    parser.add_argument(
        "-p",
        "--port",
        type=int,
        help="Port number to use for connection",
        default=int(os.environ.get("MOTO_PORT", 5000)),
    )
    parser.add_argument(
        "-r", "--reload", action="store_true", help="Reload server on a file change (moto's server)"
    )
    parser.add_argument("-s", "--ssl", action="store_true", help="Serve https with an ad-hoc certificate")
    parser.add_argument("-c", "--ssl-cert", type=str, help="Path to SSL certificate", default=None)
    parser.add_argument("-k", "--ssl-key", type=str, help="Path to SSL private key", default=None)
    return parser.parse_args(argv)


def _exit(signum: int, frame: Any) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    for name, reason in apply_patches().items():
        print(f"avs moto_server: patch {name} skipped, moto runs unpatched there ({reason})", file=sys.stderr)
    argv = sys.argv[1:] if argv is None else argv
    args = _arguments(argv)
    if args.reload:  # werkzeug's reloader: moto's own server, connection-per-request
        from moto.server import main as moto_main

        moto_main(argv)
        return

    if "MOTO_PORT" not in os.environ:  # Step Functions integrations call back here
        os.environ["MOTO_PORT"] = str(args.port)
    signal.signal(signal.SIGINT, _exit)
    signal.signal(signal.SIGTERM, _exit)

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # type: ignore[attr-defined]  # as moto.server sets it
    ssl_context: Any = None
    if args.ssl_key and args.ssl_cert:
        ssl_context = (args.ssl_cert, args.ssl_key)
    elif args.ssl:
        ssl_context = "adhoc"
    KeepAliveHandler.request_log = os.environ.get("AVS_MOTO_REQUEST_LOG") == "1"
    gc.set_threshold(*GC_THRESHOLDS)
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=KeepAliveHandler, ssl_context=ssl_context
    )
    scheme = "http" if ssl_context is None else "https"
    print(
        f"avs moto_server: serving on {scheme}://{args.host}:{server.port} (HTTP/1.1 keep-alive)",
        file=sys.stderr,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
