"""Helpers for the schema tests: hand-written fixtures in tests/fixtures/schema."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "schema"


def read_fixture(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture
def fixtures_dir() -> Path:
    """The directory of the hand-written schema fixtures."""
    return FIXTURES


@pytest.fixture
def fixture_json() -> Callable[[str], dict[str, Any]]:
    """Load a fixture as a fresh dict (tests may mutate it)."""

    def load(name: str) -> dict[str, Any]:
        return copy.deepcopy(read_fixture(name))

    return load
