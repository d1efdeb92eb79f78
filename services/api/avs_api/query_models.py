"""Query-string models read in one pydantic call, documented exactly as FastAPI documents them.

FastAPI can read a whole query string into a pydantic model
(``params: Annotated[Model, Query()]``), but it does so field by field, inspecting
each field's annotation on every request: about 140 µs per request for the search
models, the largest single cost of a structured search after the index itself.
:class:`QueryModel` does the same job with one ``model_validate`` of a dict built
from the query string (about 15 µs):

* a parameter whose field is a list collects every occurrence (``?genre=a&genre=b``);
  any other parameter takes its last occurrence, as FastAPI does;
* unknown parameters are passed on, so a model that forbids extras rejects them;
* validation errors are raised as FastAPI's ``RequestValidationError`` with
  ``("query", field, ...)`` locations, so the app's error handler answers the same
  422 JSON (``error.fields[].field`` = ``type.0``, ``year_to``, ...).

The OpenAPI parameters are the ones FastAPI generates for ``Annotated[Model, Query()]``
(built once on a scratch app), with schema references inlined: pass
:attr:`QueryModel.openapi` as the route's ``openapi_extra``.

    SEARCH = QueryModel(StructuredParams)

    @router.get("/search/structured", openapi_extra=SEARCH.openapi)
    async def search(params: Annotated[StructuredParams, Depends(SEARCH)]) -> ...
"""

from __future__ import annotations

import copy
import typing
from typing import Annotated, Any, Generic, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class QueryModel(Generic[M]):
    """A FastAPI dependency reading the request's query string into ``model``."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._lists = frozenset(
            name
            for field_name, field in model.model_fields.items()
            if _is_list(field.annotation)
            for name in {field_name, field.alias or field_name}
        )
        self.openapi: dict[str, Any] = {"parameters": _documented_parameters(model)}

    async def __call__(self, request: Request) -> M:
        return self.parse(request.query_params.multi_items())

    def parse(self, items: list[tuple[str, str]]) -> M:
        """``model`` from the query's (name, value) pairs; RequestValidationError if invalid."""
        data: dict[str, Any] = {}
        for name, value in items:
            if name in self._lists:
                data.setdefault(name, []).append(value)
            else:
                data[name] = value
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            errors = [{**error, "loc": ("query", *error["loc"])} for error in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from None


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, set, tuple, frozenset):
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation)) if origin is not None else False


def _documented_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI parameters FastAPI generates for ``Annotated[model, Query()]``, refs inlined."""
    scratch = FastAPI()

    async def endpoint(params: Any) -> None:
        return None

    # Set at run time: this module's annotations are strings (``from __future__``).
    endpoint.__annotations__ = {"params": Annotated[model, Query()], "return": None}

    scratch.add_api_route("/", endpoint, methods=["GET"])
    document = scratch.openapi()
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    parameters: list[dict[str, Any]] = document["paths"]["/"]["get"].get("parameters", [])
    inlined: list[dict[str, Any]] = _inline(copy.deepcopy(parameters), schemas)
    return inlined


def _inline(node: Any, schemas: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            target = copy.deepcopy(schemas[ref.rsplit("/", 1)[1]])
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return _inline({**target, **rest}, schemas)
        return {k: _inline(v, schemas) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, schemas) for v in node]
    return node
