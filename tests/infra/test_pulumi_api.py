"""The API behind API Gateway: stage caching of the public reads, keyed on the path and
on every query parameter the API reads (checked against its OpenAPI document)."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

from avs_infra.api_gateway import CACHED_ROUTES, STAGE  # noqa: E402
from avs_infra.config import API_CACHE_TTL_RANGE  # noqa: E402
from avs_infra.mocking import built, stack_config  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@cache
def openapi() -> dict[str, Any]:
    from avs_api.app import create_app
    from avs_api.settings import ApiSettings

    spec: dict[str, Any] = create_app(ApiSettings()).openapi()
    return spec


def query_parameters(path: str) -> dict[str, bool]:
    """Query parameter -> repeatable (an array), as the API declares them."""
    out: dict[str, bool] = {}
    for p in openapi()["paths"][path]["get"].get("parameters", []):
        if p["in"] != "query":
            continue
        schema = p["schema"]
        out[p["name"]] = schema.get("type") == "array" or any(
            a.get("type") == "array" for a in schema.get("anyOf", [])
        )
    return out


@pytest.mark.parametrize("route", CACHED_ROUTES, ids=lambda r: r.path)
def test_cache_keys_name_every_query_parameter_of_the_route(route: Any) -> None:
    declared = query_parameters(route.path)
    assert set(route.query) == set(declared), (
        f"{route.path}: the API reads {sorted(declared)}; a parameter missing from the cache key would "
        "serve one query's answer to another (update CACHED_ROUTES in infra/avs_infra/api_gateway.py)"
    )
    assert {q for q in route.query if declared[q]} == set(route.repeatable)
    assert "security" not in openapi()["paths"][route.path]["get"], "never cache an authenticated route"


def test_cached_routes_are_public_reads_and_everything_else_passes_through() -> None:
    cached = {r.path for r in CACHED_ROUTES}
    for path, operations in openapi()["paths"].items():
        if any("security" in op for op in operations.values()):
            assert path not in cached
    assert not any(p.startswith(("/proxy", "/review", "/operator", "/health", "/ready")) for p in cached)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_stage_caches_the_cached_routes_for_5_to_15_minutes(stack: str) -> None:
    graph = built(stack)
    stage = graph.one("aws:apigateway/stage:Stage")
    assert stage.inputs["stageName"] == STAGE and stage.inputs["cacheClusterEnabled"] is True
    settings = {
        s.inputs["methodPath"]: s.inputs["settings"]
        for s in graph.of_type("aws:apigateway/methodSettings:MethodSettings")
    }
    assert settings.pop("*/*")["cachingEnabled"] is False, "nothing is cached unless listed"
    ttl = int(stack_config(stack)["anime-vector-service:apiCacheTtlSeconds"])
    assert API_CACHE_TTL_RANGE[0] <= ttl <= API_CACHE_TTL_RANGE[1]
    assert set(settings) == {f"{r.path.lstrip('/')}/GET" for r in CACHED_ROUTES}
    for s in settings.values():
        assert s["cachingEnabled"] is True and s["cacheTtlInSeconds"] == ttl
        assert s["requireAuthorizationForCacheControl"] is True, "clients cannot flush the cache"


def test_cached_get_methods_key_on_the_path_and_query_and_reach_the_nlb_through_the_vpc_link() -> None:
    graph = built("dev")
    link = graph.one("aws:apigateway/vpcLink:VpcLink")
    nlb = graph.one("aws:lb/loadBalancer:LoadBalancer")
    assert link.inputs["targetArn"] == nlb.state["arn"]
    integrations = graph.of_type("aws:apigateway/integration:Integration")
    assert all(
        i.inputs["connectionType"] == "VPC_LINK" and i.inputs["connectionId"] == link.id for i in integrations
    )
    assert all(
        i.inputs["type"] == "HTTP_PROXY" and nlb.state["dnsName"] in i.inputs["uri"] for i in integrations
    )
    cached = {
        i.inputs["uri"].split(":80", 1)[1]: i.inputs
        for i in integrations
        if i.inputs.get("cacheKeyParameters")
    }
    for route in CACHED_ROUTES:
        integration = cached[route.path]
        assert integration["httpMethod"] == "GET"
        keys = integration["cacheKeyParameters"]
        assert {k for k in keys if ".path." in k} == {f"method.request.path.{p}" for p in route.path_params}
        for name in route.query:
            kind = "multivaluequerystring" if name in route.repeatable else "querystring"
            assert f"method.request.{kind}.{name}" in keys
    methods = graph.of_type("aws:apigateway/method:Method")
    declared = set().union(*(set(m.inputs.get("requestParameters", {})) for m in methods))
    for integration in cached.values():
        assert set(integration["cacheKeyParameters"]) <= declared, (
            "cache keys must be method request parameters"
        )
    greedy = [
        r for r in graph.of_type("aws:apigateway/resource:Resource") if r.inputs["pathPart"] == "{proxy+}"
    ]
    root = graph.one("aws:apigateway/restApi:RestApi").state["rootResourceId"]
    assert root in {r.inputs["parentId"] for r in greedy}, "everything else reaches the API uncached"
