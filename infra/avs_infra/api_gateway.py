"""The API's front door: API Gateway (REST, regional) → VPC link → internal NLB → API tasks.

Stage caching (the plan's task 4.3) is on for the public read routes of
:data:`CACHED_ROUTES` only, keyed on the path and on *every* query parameter of the
route (repeatable ones with all their values), for ``apiCacheTtlSeconds`` (5-15 min).
A test compares this list with the API's OpenAPI document, so a new query parameter
cannot be left out of the key (which would serve one query's answer to another).
Everything else (review, operator, proxy, agentic search, health) passes through
uncached. Clients cannot flush the cache (``Cache-Control: max-age=0`` needs IAM
authorization). The API itself still sends ``Cache-Control`` / ``ETag`` and keeps its
Redis response cache behind this one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from avs_infra.config import StackConfig
from avs_infra.network import NLB_PORT, Network
from avs_infra.services import API_PORT

STAGE = "live"
_FILTERS = (
    "genre",
    "genre_any",
    "genre_not",
    "tag",
    "tag_any",
    "tag_not",
    "year",
    "year_from",
    "year_to",
    "season",
    "type",
    "status",
    "episodes_min",
    "episodes_max",
    "score_min",
    "studio",
    "nsfw",
    "rating",
    "include_orphaned",
)
_REPEATABLE_FILTERS = (
    "genre",
    "genre_any",
    "genre_not",
    "tag",
    "tag_any",
    "tag_not",
    "type",
    "status",
    "studio",
    "rating",
)


@dataclass(frozen=True)
class CachedRoute:
    """A GET route cached at the edge; ``query``: every query parameter it reads,
    ``repeatable``: those that may appear more than once (all values join the key)."""

    path: str
    query: tuple[str, ...] = ()
    repeatable: tuple[str, ...] = ()

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{([A-Za-z0-9_]+)\}", self.path)

    def cache_key_parameters(self) -> list[str]:
        keys = [f"method.request.path.{p}" for p in self.path_params]
        for name in self.query:
            where = "multivaluequerystring" if name in self.repeatable else "querystring"
            keys.append(f"method.request.{where}.{name}")
        return keys


CACHED_ROUTES: tuple[CachedRoute, ...] = (
    CachedRoute(
        "/search/structured",
        ("limit", "page", "cursor", *_FILTERS, "sort", "order", "facet"),
        (*_REPEATABLE_FILTERS, "facet"),
    ),
    CachedRoute("/search/semantic", ("limit", "page", "cursor", *_FILTERS, "q", "mode"), _REPEATABLE_FILTERS),
    CachedRoute("/anime/{anime_id}", ("fields",)),
    CachedRoute("/anime/{anime_id}/similar", (*_FILTERS, "limit"), _REPEATABLE_FILTERS),
    CachedRoute("/popular", ("limit", "offset", "include_orphaned")),
    CachedRoute("/top-rated", ("limit", "offset", "include_orphaned")),
)


@dataclass(frozen=True)
class Ingress:
    nlb: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    listener: aws.lb.Listener


def build_ingress(cfg: StackConfig, network: Network) -> Ingress:
    tags = {"service": "api"}
    nlb = aws.lb.LoadBalancer(
        "api-nlb",
        internal=True,
        load_balancer_type="network",
        subnets=network.private_subnet_ids,
        security_groups=[network.nlb_sg.id],
        enforce_security_group_inbound_rules_on_private_link_traffic="off",
        enable_cross_zone_load_balancing=True,
        tags=tags,
    )
    target_group = aws.lb.TargetGroup(
        "api-tg",
        port=API_PORT,
        protocol="TCP",
        target_type="ip",
        vpc_id=network.vpc.id,
        deregistration_delay=30,
        health_check=aws.lb.TargetGroupHealthCheckArgs(
            protocol="HTTP",
            path="/health",
            port="traffic-port",
            interval=15,
            healthy_threshold=2,
            unhealthy_threshold=3,
        ),
        tags=tags,
    )
    listener = aws.lb.Listener(
        "api-nlb-listener",
        load_balancer_arn=nlb.arn,
        port=NLB_PORT,
        protocol="TCP",
        default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)],
        tags=tags,
    )
    return Ingress(nlb=nlb, target_group=target_group, listener=listener)


def _tree() -> list[str]:
    """Every resource path the routes need, parents first (``/a``, ``/a/{b}``, ...)."""
    paths: list[str] = []
    for route in CACHED_ROUTES:
        parts = route.path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            path = "/" + "/".join(parts[:i])
            if path not in paths:
                paths.append(path)
    return paths


def _has_variable_child(path: str, paths: list[str]) -> bool:
    return any(p.startswith(path + "/{") and p.count("/") == path.count("/") + 1 for p in paths)


def _logical(path: str) -> str:
    return "api-res" + re.sub(r"[^A-Za-z0-9]+", "-", path).rstrip("-")


def build_rest_api(cfg: StackConfig, ingress: Ingress) -> aws.apigateway.Stage:
    G = aws.apigateway
    tags = {"service": "api"}
    api = G.RestApi(
        "api",
        name=f"avs-{cfg.environment}-api",
        description="anime-vector-service API (cached public reads)",
        endpoint_configuration=G.RestApiEndpointConfigurationArgs(types="REGIONAL"),
        tags=tags,
    )
    link = G.VpcLink("api-link", name=f"avs-{cfg.environment}-api", target_arn=ingress.nlb.arn, tags=tags)
    base = ingress.nlb.dns_name.apply(lambda host: f"http://{host}:{NLB_PORT}")
    parts: list[pulumi.Resource] = []

    def method(
        logical: str, resource_id: pulumi.Input[str], path: str, verb: str, cached: CachedRoute | None
    ) -> None:
        params = re.findall(r"\{([A-Za-z0-9_]+)\+?\}", path)
        method_params = {f"method.request.path.{p}": True for p in params}
        if cached:
            method_params.update({k: False for k in cached.cache_key_parameters() if ".path." not in k})
        m = G.Method(
            logical,
            rest_api=api.id,
            resource_id=resource_id,
            http_method=verb,
            authorization="NONE",
            request_parameters=method_params or None,
        )
        uri_path = re.sub(r"\{([A-Za-z0-9_]+)\+\}", r"{\1}", path)
        integration = G.Integration(
            logical,
            rest_api=api.id,
            resource_id=resource_id,
            http_method=m.http_method,
            type="HTTP_PROXY",
            integration_http_method="ANY" if verb == "ANY" else verb,
            uri=pulumi.Output.concat(base, uri_path),
            connection_type="VPC_LINK",
            connection_id=link.id,
            request_parameters={f"integration.request.path.{p}": f"method.request.path.{p}" for p in params}
            or None,
            cache_key_parameters=cached.cache_key_parameters() if cached else None,
            timeout_milliseconds=29_000,
        )
        parts.extend([m, integration])

    ids: dict[str, pulumi.Input[str]] = {"": api.root_resource_id}
    paths = _tree()
    for path in paths:
        parent, _, last = path.rpartition("/")
        ids[path] = G.Resource(_logical(path), rest_api=api.id, parent_id=ids[parent], path_part=last).id
    method("api-root-any", api.root_resource_id, "/", "ANY", None)
    greedy_parents = [""] + [p for p in paths if not _has_variable_child(p, paths)]
    for parent in greedy_parents:
        greedy = G.Resource(
            _logical(f"{parent}/proxy"), rest_api=api.id, parent_id=ids[parent], path_part="{proxy+}"
        )
        method(_logical(f"{parent}/proxy") + "-any", greedy.id, f"{parent}/{{proxy+}}", "ANY", None)
    cached_by_path = {r.path: r for r in CACHED_ROUTES}
    for path in paths:
        method(_logical(path) + "-any", ids[path], path, "ANY", None)
        if path in cached_by_path:
            method(_logical(path) + "-get", ids[path], path, "GET", cached_by_path[path])

    fingerprint = hashlib.sha256(
        json.dumps([r.__dict__ for r in CACHED_ROUTES], sort_keys=True).encode()
    ).hexdigest()
    deployment = G.Deployment(
        "api-deployment",
        rest_api=api.id,
        triggers={"routes": fingerprint},
        opts=pulumi.ResourceOptions(depends_on=parts),
    )
    stage = G.Stage(
        "api-stage",
        rest_api=api.id,
        deployment=deployment.id,
        stage_name=STAGE,
        cache_cluster_enabled=True,
        cache_cluster_size=cfg.api_cache_size_gb,
        tags=tags,
    )
    throttle: dict[str, Any] = dict(
        throttling_rate_limit=cfg.api_throttle_rate, throttling_burst_limit=cfg.api_throttle_burst
    )
    G.MethodSettings(
        "api-settings-all",
        rest_api=api.id,
        stage_name=stage.stage_name,
        method_path="*/*",
        settings=G.MethodSettingsSettingsArgs(metrics_enabled=True, caching_enabled=False, **throttle),
    )
    for route in CACHED_ROUTES:
        G.MethodSettings(
            _logical(route.path) + "-cache",
            rest_api=api.id,
            stage_name=stage.stage_name,
            method_path=f"{route.path.lstrip('/')}/GET",
            settings=G.MethodSettingsSettingsArgs(
                metrics_enabled=True,
                caching_enabled=True,
                cache_ttl_in_seconds=cfg.api_cache_ttl_s,
                cache_data_encrypted=True,
                require_authorization_for_cache_control=True,
                unauthorized_cache_control_header_strategy="SUCCEED_WITH_RESPONSE_HEADER",
                **throttle,
            ),
        )
    return stage
