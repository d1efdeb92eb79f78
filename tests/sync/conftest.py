"""Fixtures of the sync's tests; they and the helpers live in ``avs_sync_testkit``."""

from avs_sync_testkit import (  # noqa: F401  (fixtures are found by name)
    github,
    make_ports,
    offline,
    ports,
    seed,
    snapshot_object,
)
