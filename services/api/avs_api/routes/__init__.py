"""The API's routers: every module here that defines ``router`` is mounted by the app.

A new group of endpoints is a new module, not an edit of the app. Routers are mounted
in ``PRIORITY`` order (a module-level int, default :data:`DEFAULT_PRIORITY`), then by
module name: a request is matched against the routes in mount order, so the busiest
read endpoints (searches, lookups, lists) declare a low priority and are found first.
Priorities change no behaviour as long as no two modules declare overlapping paths.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

DEFAULT_PRIORITY = 100


def discover() -> list[APIRouter]:
    found: list[tuple[int, str, APIRouter]] = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        router = getattr(loaded, "router", None)
        if isinstance(router, APIRouter):
            found.append((int(getattr(loaded, "PRIORITY", DEFAULT_PRIORITY)), module.name, router))
    return [router for _, _, router in sorted(found, key=lambda f: (f[0], f[1]))]
