"""EnrichedDatabase: the enriched file root."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from avs_shared.schema import AnimeType, EnrichedDatabase

Load = Callable[[str], dict[str, Any]]


def test_root_round_trips_and_is_typed(fixture_json: Load) -> None:
    data = fixture_json("enriched_database.json")

    database = EnrichedDatabase.from_json_dict(data)

    assert database.last_update == date(2025, 7, 31)
    assert database.enrichment_info is not None
    assert database.enrichment_info.total_anime == 2
    assert database.enrichment_info.last_enrichment == date(2025, 7, 31)
    assert database.enrichment_info.model_extra == {"operator": "fixture"}
    assert [e.type for e in database.data] == [AnimeType.MUSIC, AnimeType.PV]
    assert database.to_json_dict() == fixture_json("enriched_database.json")


def test_only_data_is_required(fixture_json: Load) -> None:
    data = {"data": fixture_json("enriched_database.json")["data"]}

    database = EnrichedDatabase.from_json_dict(data)

    assert database.license is None and database.enrichment_info is None
    assert database.to_json_dict() == data
    with pytest.raises(ValidationError) as info:
        EnrichedDatabase.from_json_dict({"repository": "https://example.org"})
    assert [tuple(e["loc"]) for e in info.value.errors()] == [("data",)]
