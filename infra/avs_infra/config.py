"""Stack configuration: read once from ``Pulumi.<stack>.yaml``, validated, with clear errors.

Keys live in the project namespace (``anime-vector-service:<key>``). Every key has a
default here except those that differ by nature between environments and must be
chosen on purpose (``vpcCidr``, ``signozUiCidr``, ``budgetMonthlyUsd``) and the
container image tag, which the deploy workflow sets to the commit it built.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

PROJECT = "anime-vector-service"
ENVIRONMENTS = ("dev", "staging", "prod")
API_CACHE_TTL_RANGE = (300, 900)  # the plan's 5-15 minutes
API_CACHE_SIZES = ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")
PLANNERS = ("rules", "bedrock")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InfraConfigError(ValueError):
    """A stack configuration value is missing or wrong; the message names the key and the fix."""


class ConfigSource(Protocol):
    """What :func:`load_config` reads: :class:`pulumi.Config` or any mapping-like stand-in."""

    def get(self, key: str) -> str | None: ...

    def get_object(self, key: str) -> Any: ...


@dataclass(frozen=True)
class Sizing:
    """Fargate size and scaling of one service.

    ``backlog_per_task``: queue-depth target of a worker (visible messages per running
    task); ``cpu_target``: CPU target of the API. Exactly one is set when
    ``max_tasks > min_tasks``.
    """

    cpu: int
    memory: int
    min_tasks: int
    max_tasks: int
    backlog_per_task: int | None = None
    cpu_target: int | None = None


@dataclass(frozen=True)
class StackConfig:
    environment: str
    image_tag: str
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    nat_gateways: int
    sizing: Mapping[str, Sizing]
    signoz_ui_cidr: str
    budget_monthly_usd: float
    api_cache_ttl_s: int = 600
    api_cache_size_gb: str = "0.5"
    api_throttle_rate: float = 200.0
    api_throttle_burst: int = 400
    redis_node_type: str = "cache.t4g.small"
    redis_replicas: int = 0
    signoz_instance_type: str = "t3.large"
    signoz_volume_gb: int = 100
    signoz_version: str = "v0.119.0"
    signoz_ami_parameter: str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    private_zone_name: str = "internal.anime-vector-service"
    budget_alert_emails: tuple[str, ...] = ()
    anomaly_threshold_usd: float = 50.0
    log_retention_days: int = 30
    protect: bool = False
    agentic_planner: str = "rules"
    bedrock_model_id: str = "qwen.qwen3-32b-v1:0"
    qdrant_url: str | None = None
    cdn_aliases: tuple[str, ...] = ()
    cdn_certificate_arn: str | None = None
    cdn_price_class: str = "PriceClass_100"


# Defaults per service (package name -> sizing); a stack overrides any field with
# `services: {<package>: {cpu: 1024, ...}}`.
DEFAULT_SIZING: dict[str, Sizing] = {
    "api": Sizing(cpu=1024, memory=2048, min_tasks=2, max_tasks=6, cpu_target=60),
    # No long-running sync: its jobs run as scheduled tasks (its image's default command
    # would fire them from a cron of its own, twice with EventBridge).
    "sync": Sizing(cpu=512, memory=1024, min_tasks=0, max_tasks=0),
    "enricher": Sizing(cpu=512, memory=1024, min_tasks=1, max_tasks=4, backlog_per_task=20),
    "image_ingestor": Sizing(cpu=512, memory=1024, min_tasks=1, max_tasks=4, backlog_per_task=50),
    "indexer": Sizing(cpu=2048, memory=4096, min_tasks=1, max_tasks=6, backlog_per_task=100),
}
_SIZING_KEYS = {
    "cpu": "cpu",
    "memory": "memory",
    "minTasks": "min_tasks",
    "maxTasks": "max_tasks",
    "backlogPerTask": "backlog_per_task",
    "cpuTarget": "cpu_target",
}
# Fargate's valid cpu -> memory (MiB) ranges.
_FARGATE = {256: (512, 2048), 512: (1024, 4096), 1024: (2048, 8192), 2048: (4096, 16384), 4096: (8192, 30720)}


def _require(source: ConfigSource, key: str, hint: str) -> str:
    value = source.get(key)
    if value is None or not str(value).strip():
        raise InfraConfigError(f"config {PROJECT}:{key} is required: {hint}")
    return str(value).strip()


def _int(source: ConfigSource, key: str, default: int) -> int:
    raw = source.get(key)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InfraConfigError(f"config {PROJECT}:{key} must be an integer (got {raw!r})") from exc


def _float(source: ConfigSource, key: str, default: float | None) -> float:
    raw = source.get(key)
    if raw is None:
        if default is None:
            raise InfraConfigError(f"config {PROJECT}:{key} is required (a number)")
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise InfraConfigError(f"config {PROJECT}:{key} must be a number (got {raw!r})") from exc


def _strings(source: ConfigSource, key: str) -> tuple[str, ...]:
    value = source.get_object(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InfraConfigError(f"config {PROJECT}:{key} must be a list of non-empty strings (got {value!r})")
    return tuple(value)


def _cidr(key: str, value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise InfraConfigError(f"config {PROJECT}:{key} is not a CIDR block: {exc}") from exc


def _sizing(source: ConfigSource) -> dict[str, Sizing]:
    overrides = source.get_object("services") or {}
    if not isinstance(overrides, dict):
        raise InfraConfigError(f"config {PROJECT}:services must be a map of service -> sizing")
    unknown = set(overrides) - set(DEFAULT_SIZING)
    if unknown:
        raise InfraConfigError(
            f"config {PROJECT}:services names unknown services {sorted(unknown)}; "
            f"known: {sorted(DEFAULT_SIZING)}"
        )
    out: dict[str, Sizing] = {}
    for name, base in DEFAULT_SIZING.items():
        given = overrides.get(name) or {}
        bad = set(given) - set(_SIZING_KEYS)
        if bad:
            raise InfraConfigError(f"config {PROJECT}:services.{name}: unknown keys {sorted(bad)}")
        sizing = replace(base, **{_SIZING_KEYS[k]: int(v) for k, v in given.items()})
        _check_sizing(name, sizing)
        out[name] = sizing
    return out


def _check_sizing(name: str, s: Sizing) -> None:
    where = f"config {PROJECT}:services.{name}"
    if s.cpu not in _FARGATE or not _FARGATE[s.cpu][0] <= s.memory <= _FARGATE[s.cpu][1]:
        raise InfraConfigError(f"{where}: cpu {s.cpu} / memory {s.memory} is not a Fargate size")
    if not 0 <= s.min_tasks <= s.max_tasks:
        raise InfraConfigError(f"{where}: need 0 <= minTasks <= maxTasks (got {s.min_tasks}, {s.max_tasks})")
    if s.max_tasks > s.min_tasks and (s.backlog_per_task is None) == (s.cpu_target is None):
        raise InfraConfigError(f"{where}: a scaling service needs exactly one of backlogPerTask, cpuTarget")


def load_config(stack: str, source: ConfigSource) -> StackConfig:
    """The validated configuration of ``stack``; :class:`InfraConfigError` names what to fix."""
    if stack not in ENVIRONMENTS:
        raise InfraConfigError(
            f"stack {stack!r} is not one of {ENVIRONMENTS}: name the stack after its environment"
        )
    zones = _strings(source, "availabilityZones")
    if len(zones) < 2:
        raise InfraConfigError(
            f"config {PROJECT}:availabilityZones needs at least two zones (got {list(zones)})"
        )
    nat = _int(source, "natGateways", 1)
    if not 1 <= nat <= len(zones):
        raise InfraConfigError(f"config {PROJECT}:natGateways must be between 1 and {len(zones)} (got {nat})")
    ui_cidr = _cidr(
        "signozUiCidr", _require(source, "signozUiCidr", "the network allowed to open the SigNoz UI")
    )
    if ipaddress.ip_network(ui_cidr).prefixlen == 0:
        raise InfraConfigError(f"config {PROJECT}:signozUiCidr must not be the whole internet ({ui_cidr})")
    ttl = _int(source, "apiCacheTtlSeconds", 600)
    if not API_CACHE_TTL_RANGE[0] <= ttl <= API_CACHE_TTL_RANGE[1]:
        raise InfraConfigError(
            f"config {PROJECT}:apiCacheTtlSeconds must be within {API_CACHE_TTL_RANGE} (got {ttl})"
        )
    cache_size = source.get("apiCacheSizeGb") or "0.5"
    if cache_size not in API_CACHE_SIZES:
        raise InfraConfigError(f"config {PROJECT}:apiCacheSizeGb must be one of {API_CACHE_SIZES}")
    budget = _float(source, "budgetMonthlyUsd", None)
    if budget <= 0:
        raise InfraConfigError(f"config {PROJECT}:budgetMonthlyUsd must be positive (got {budget})")
    emails = _strings(source, "budgetAlertEmails")
    for email in emails:
        if not _EMAIL.match(email):
            raise InfraConfigError(f"config {PROJECT}:budgetAlertEmails: {email!r} is not an e-mail address")
    planner = source.get("agenticPlanner") or "rules"
    if planner not in PLANNERS:
        raise InfraConfigError(f"config {PROJECT}:agenticPlanner must be one of {PLANNERS} (got {planner!r})")
    aliases = _strings(source, "cdnAliases")
    certificate = source.get("cdnCertificateArn")
    if aliases and not certificate:
        raise InfraConfigError(
            f"config {PROJECT}:cdnAliases needs cdnCertificateArn (an ACM certificate in us-east-1)"
        )
    return StackConfig(
        environment=stack,
        image_tag=_require(
            source, "imageTag", "the deploy workflow sets it to the commit whose images it pushed"
        ),
        vpc_cidr=_cidr("vpcCidr", _require(source, "vpcCidr", "the VPC's address range, e.g. 10.20.0.0/16")),
        availability_zones=zones,
        nat_gateways=nat,
        sizing=_sizing(source),
        signoz_ui_cidr=ui_cidr,
        budget_monthly_usd=budget,
        api_cache_ttl_s=ttl,
        api_cache_size_gb=cache_size,
        api_throttle_rate=_float(source, "apiThrottleRate", 200.0),
        api_throttle_burst=_int(source, "apiThrottleBurst", 400),
        redis_node_type=source.get("redisNodeType") or "cache.t4g.small",
        redis_replicas=_int(source, "redisReplicas", 0),
        signoz_instance_type=source.get("signozInstanceType") or "t3.large",
        signoz_volume_gb=_int(source, "signozVolumeGb", 100),
        signoz_version=source.get("signozVersion") or StackConfig.signoz_version,
        private_zone_name=source.get("privateZoneName") or StackConfig.private_zone_name,
        budget_alert_emails=emails,
        anomaly_threshold_usd=_float(source, "anomalyThresholdUsd", 50.0),
        log_retention_days=_int(source, "logRetentionDays", 30),
        protect=(source.get("protect") or "false").lower() == "true",
        agentic_planner=planner,
        bedrock_model_id=source.get("bedrockModelId") or StackConfig.bedrock_model_id,
        qdrant_url=source.get("qdrantUrl"),
        cdn_aliases=aliases,
        cdn_certificate_arn=certificate,
        cdn_price_class=source.get("cdnPriceClass") or "PriceClass_100",
    )
