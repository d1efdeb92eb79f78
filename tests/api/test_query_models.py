"""``avs_api.query_models.QueryModel``: query strings read in one pydantic call, documented as FastAPI does;
and the order routers are mounted in (``avs_api.routes.discover``).

Pure functions and the app's OpenAPI document: no I/O. The search, similar and error
tests (``test_search_*``, ``test_lookups``) run the same models through the real routes.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query
from fastapi.exceptions import RequestValidationError

from avs_api import routes
from avs_api.app import create_app
from avs_api.query_models import QueryModel
from avs_api.routes.anime import SimilarParams
from avs_api.routes.search import SemanticParams, StructuredParams
from avs_api.search.params import Sort
from avs_api.settings import ApiSettings

STRUCTURED = QueryModel(StructuredParams)


def test_repeated_list_parameters_collect_and_scalars_take_the_last_value() -> None:
    params = STRUCTURED.parse(
        [
            ("genre", "Action"),
            ("genre", "Drama"),
            ("type", "tv"),
            ("limit", "5"),
            ("limit", "7"),
            ("sort", "score"),
        ]
    )

    assert params.genres_all == ["Action", "Drama"]
    assert [t.value for t in params.type] == ["TV"]
    assert params.limit == 7 and params.sort is Sort.SCORE


def test_field_names_work_as_well_as_the_published_aliases() -> None:
    params = STRUCTURED.parse([("genres_all", "Action"), ("genres_all", "Comedy")])

    assert params.genres_all == ["Action", "Comedy"]


@pytest.mark.parametrize(
    ("items", "loc"),
    [
        ([("genres", "Action")], ("query", "genres")),  # a typo is an error, not an unfiltered search
        ([("type", "CARTOON")], ("query", "type", 0)),
        ([("year_from", "2010"), ("year_to", "2000")], ("query", "year_to")),
        ([("limit", "abc")], ("query", "limit")),
        ([("genre", "   ")], ("query", "genre", 0)),
    ],
)
def test_invalid_queries_raise_fastapis_validation_error_with_query_locations(
    items: list[tuple[str, str]], loc: tuple[Any, ...]
) -> None:
    with pytest.raises(RequestValidationError) as raised:
        STRUCTURED.parse(items)

    assert [error["loc"] for error in raised.value.errors()] == [loc]


def test_a_missing_required_parameter_is_named() -> None:
    with pytest.raises(RequestValidationError) as raised:
        QueryModel(SemanticParams).parse([("mode", "bm25")])

    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [(("query", "q"), "missing")]


@pytest.mark.parametrize("model", [StructuredParams, SemanticParams, SimilarParams])
def test_the_documented_parameters_are_fastapis_own_with_references_inlined(model: type[Any]) -> None:
    scratch = FastAPI()

    async def endpoint(params: Any) -> None:
        return None

    endpoint.__annotations__ = {"params": Annotated[model, Query()], "return": None}
    scratch.add_api_route("/", endpoint, methods=["GET"])
    fastapis = scratch.openapi()["paths"]["/"]["get"]["parameters"]
    ours = QueryModel(model).openapi["parameters"]

    assert [(p["name"], p["in"], p["required"]) for p in ours] == [
        (p["name"], p["in"], p["required"]) for p in fastapis
    ]
    assert "$ref" not in json.dumps(ours)


def test_the_app_documents_every_search_parameter_and_no_dangling_reference() -> None:
    document = create_app(ApiSettings(service_name="avs-api-test")).openapi()
    schemas = document["components"]["schemas"]
    structured = document["paths"]["/search/structured"]["get"]
    similar = document["paths"]["/anime/{anime_id}/similar"]["get"]

    aliases = {f.alias or name for name, f in StructuredParams.model_fields.items()}
    assert {p["name"] for p in structured["parameters"]} == aliases
    assert similar["parameters"][0]["name"] == "anime_id"  # the path parameter stays
    assert {"limit", "genre", "include_orphaned"} <= {p["name"] for p in similar["parameters"]}
    text = json.dumps(document["paths"])
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in schemas, ref


def test_busy_read_routers_are_mounted_first_the_rest_by_module_name() -> None:
    first_paths = [router.routes[0].path for router in routes.discover()]  # type: ignore[attr-defined]

    assert first_paths[:3] == ["/search/structured", "/anime/{anime_id}", "/popular"]
    assert "/search/agentic" in first_paths[3:]
