"""The whole environment, in dependency order. :func:`build` is the Pulumi program."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from avs_infra import iam
from avs_infra.api_gateway import build_ingress, build_rest_api
from avs_infra.cache import build_cache
from avs_infra.compute import build_compute
from avs_infra.config import StackConfig, load_config
from avs_infra.cost import build_alerts, build_cost_controls
from avs_infra.messaging import build_messaging
from avs_infra.network import build_network
from avs_infra.observability import build_observability
from avs_infra.schedules import build_cron_rules, build_schedule_groups
from avs_infra.secrets import build_secrets
from avs_infra.storage import build_storage
from avs_infra.tables import build_tables
from avs_infra.tags import register_default_tags
from avs_infra.workflow import build_state_machines


def build(cfg: StackConfig | None = None) -> None:
    """Declare every resource of the current stack (``pulumi.get_stack()``) and export
    what operators and the deploy workflow read (``pulumi stack output``)."""
    cfg = cfg or load_config(pulumi.get_stack(), pulumi.Config())
    register_default_tags(cfg.environment)  # first: every later resource gets the tags
    region = pulumi.Config("aws").require("region")
    account_id = aws.get_caller_identity_output().account_id
    arns = iam.ArnRegistry(
        region=region, bedrock_model_id=cfg.bedrock_model_id if cfg.agentic_planner == "bedrock" else ""
    )

    network = build_network(cfg)
    alerts = build_alerts(cfg, account_id)
    storage = build_storage(cfg)
    arns.bucket = storage.bucket.arn
    tables = build_tables(cfg)
    arns.tables.update({name: t.arn for name, t in tables.items()})
    messaging = build_messaging(alerts.topic)
    arns.topics.update({name: t.arn for name, t in messaging.topics.items()})
    arns.queues.update({name: q.arn for name, q in messaging.queues.items()})
    build_schedule_groups(messaging, arns, account_id)
    secrets = build_secrets(cfg, arns)
    build_state_machines(cfg, arns)
    cache = build_cache(cfg, network)
    observability = build_observability(cfg, network)
    ingress = build_ingress(cfg, network)

    environment: dict[str, pulumi.Input[str]] = {
        "AWS_REGION": region,
        "AVS_REDIS_URL": cache.url,
        "AVS_CDN_DOMAIN": cfg.cdn_aliases[0] if cfg.cdn_aliases else storage.cdn_domain,
        "AVS_LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": observability.otlp_http_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    compute = build_compute(cfg, network, arns, secrets, environment, ingress.target_group)
    stage = build_rest_api(cfg, ingress)
    build_cron_rules(compute, network)
    build_cost_controls(cfg, alerts)

    pulumi.export("environment", cfg.environment)
    pulumi.export("apiUrl", stage.invoke_url)
    pulumi.export("cdnDomain", storage.cdn_domain)
    pulumi.export("bucket", storage.bucket.bucket)
    pulumi.export("redisUrl", cache.url)
    pulumi.export("signozHost", observability.hostname)
    pulumi.export("clusterName", compute.cluster.name)
    pulumi.export(
        "ecrRepositories", {rt.spec.name: rt.repository.repository_url for rt in compute.services.values()}
    )
    pulumi.export("alertsTopicArn", alerts.topic.arn)
    pulumi.export("secrets", {"qdrant": secrets.qdrant.name, "apiKeys": secrets.api_keys.name})
