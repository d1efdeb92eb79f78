"""The Pulumi program builds its whole resource graph under mocks for every stack, from
the topology catalogue, with the shape issue 8 asks for (no cloud, no CLI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

from avs_infra import services as infra_services  # noqa: E402
from avs_infra.config import InfraConfigError, load_config  # noqa: E402
from avs_infra.mocking import TEST_OVERRIDES, build_stack, built, stack_config  # noqa: E402

from avs_shared.topology import TOPOLOGY  # noqa: E402

STACKS = ("dev", "staging", "prod")
# pulumi_aws warns about its own deprecated classes when its modules load.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["environment"]}


def container_of(graph: Any, service: str) -> dict[str, Any]:
    task = graph.named(f"task-{service}", "aws:ecs/taskDefinition:TaskDefinition")
    (container,) = json.loads(task.inputs["containerDefinitions"])
    return container


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_builds_every_catalogue_resource_by_its_catalogue_name(stack: str) -> None:
    graph = built(stack)
    assert len(graph.resources) > 200
    names = lambda token: {r.inputs.get("name") for r in graph.of_type(token)}  # noqa: E731
    assert names("aws:dynamodb/table:Table") == {t.name for t in TOPOLOGY.tables}
    assert names("aws:sns/topic:Topic") >= {t.name for t in TOPOLOGY.topics}
    assert names("aws:sqs/queue:Queue") == set(TOPOLOGY.all_queue_names())
    assert names("aws:sfn/stateMachine:StateMachine") == {m.name for m in TOPOLOGY.state_machines}
    assert names("aws:cloudwatch/eventRule:EventRule") == {s.name for s in TOPOLOGY.schedules}
    assert names("aws:scheduler/scheduleGroup:ScheduleGroup") == {g.name for g in TOPOLOGY.schedule_groups}
    assert {r.inputs["bucket"] for r in graph.of_type("aws:s3/bucket:Bucket")} == {TOPOLOGY.bucket.name}
    subscriptions = graph.of_type("aws:sns/topicSubscription:TopicSubscription")
    wired = {
        (r.inputs["topic"], r.inputs["endpoint"]) for r in subscriptions if r.inputs["protocol"] == "sqs"
    }
    arn = "arn:aws:{}:us-east-1:123456789012:{}".format
    assert wired == {(arn("sns", s.topic), arn("sqs", s.queue)) for s in TOPOLOGY.subscriptions}


def test_the_state_machine_is_the_asl_file_unchanged() -> None:
    machine = built("dev").one("aws:sfn/stateMachine:StateMachine")
    (spec,) = TOPOLOGY.state_machines
    assert machine.inputs["definition"] == (REPO / "infra" / spec.definition).read_text()
    assert machine.inputs["type"] == "STANDARD"
    role = built("dev").named(f"states-{spec.name}", "aws:iam/role:Role")
    assert machine.inputs["roleArn"] == role.state["arn"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "states.amazonaws.com"
    }


def test_services_match_the_service_packages_and_the_cli_registry() -> None:
    from avs_cli.registry import SERVICES as REGISTRY

    packages = {p.parent.name for p in (REPO / "services").glob("*/pyproject.toml")}
    assert {s.package for s in infra_services.SERVICES} == packages == set(REGISTRY)


@pytest.mark.parametrize("stack", STACKS)
def test_one_fargate_service_ecr_repository_and_task_definition_per_service(stack: str) -> None:
    graph = built(stack)
    cfg = load_config(stack, _Source(stack_config(stack, TEST_OVERRIDES)))
    for spec in infra_services.SERVICES:
        service = graph.one("aws:ecs/service:Service", name=spec.name)
        assert service.inputs["launchType"] == "FARGATE"
        assert service.inputs["networkConfiguration"]["assignPublicIp"] is False
        assert service.inputs["desiredCount"] == cfg.sizing[spec.package].min_tasks
        repo = graph.one("aws:ecr/repository:Repository", name=f"avs/{spec.name}")
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        container = container_of(graph, spec.name)
        assert container["image"].endswith(f"/avs/{spec.name}:{TEST_OVERRIDES['imageTag']}")
        env = env_of(container)
        assert env["OTEL_SERVICE_NAME"] == env["AVS_SERVICE_NAME"] == spec.otel_name
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://signoz.internal.anime-vector-service:4318"
        assert env["AVS_REDIS_URL"].startswith("rediss://") and env["AVS_REDIS_URL"].endswith(":6379/0")
        assert env["AVS_CDN_DOMAIN"].endswith(".cloudfront.net")
        assert "AWS_ENDPOINT_URL" not in env, "the cloud uses AWS itself"
        secrets = {s["name"] for s in container.get("secrets", [])}
        assert secrets == ({"QDRANT_URL", "QDRANT_API_KEY"} if spec.qdrant else set())


def test_workers_scale_on_the_backlog_of_their_own_queues_and_the_api_on_cpu() -> None:
    graph = built("prod")
    for spec in infra_services.SERVICES:
        policies = [
            p
            for p in graph.of_type("aws:appautoscaling/policy:Policy")
            if p.inputs["name"].startswith(spec.name + "-")
        ]
        if spec.package == "sync":
            assert not policies, "the sync runs as scheduled tasks"
            continue
        (policy,) = policies
        tracking = policy.inputs["targetTrackingScalingPolicyConfiguration"]
        if spec.port:
            assert (
                tracking["predefinedMetricSpecification"]["predefinedMetricType"]
                == "ECSServiceAverageCPUUtilization"
            )
            continue
        metrics = tracking["customizedMetricSpecification"]["metrics"]
        queues = [
            m["metricStat"]["metric"]["dimensions"][0]["value"] for m in metrics if m["id"].startswith("q")
        ]
        assert queues == list(spec.consumes)
        (result,) = [m for m in metrics if m.get("returnData")]
        assert "/ tasks" in result["expression"]
        target = graph.one("aws:appautoscaling/target:Target", resourceId=f"service/avs-prod/{spec.name}")
        assert target.inputs["maxCapacity"] > target.inputs["minCapacity"] >= 1


def test_the_api_sits_behind_the_internal_nlb_and_reads_its_key_records_from_secrets_manager() -> None:
    graph = built("dev")
    api = graph.one("aws:ecs/service:Service", name="api")
    (lb,) = api.inputs["loadBalancers"]
    assert lb["containerPort"] == infra_services.API_PORT
    nlb = graph.one("aws:lb/loadBalancer:LoadBalancer")
    assert nlb.inputs["internal"] is True and nlb.inputs["loadBalancerType"] == "network"
    env = env_of(container_of(graph, "api"))
    secret = graph.one("aws:secretsmanager/secret:Secret", name="avs/dev/api-keys")
    assert env["AVS_API_KEYS_SECRET_ID"] == secret.state["arn"]
    assert env["AVS_API_HOST"] == "0.0.0.0"


def test_redis_is_private_encrypted_and_reachable_only_from_the_services() -> None:
    graph = built("prod")
    redis = graph.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert redis.inputs["transitEncryptionEnabled"] and redis.inputs["atRestEncryptionEnabled"]
    assert redis.inputs["automaticFailoverEnabled"] and redis.inputs["numCacheClusters"] == 2
    (sg_id,) = redis.inputs["securityGroupIds"]
    ingress = graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    rules = [r for r in ingress if r.inputs["securityGroupId"] == sg_id]
    (rule,) = rules
    services_sg = graph.named("services-sg", "aws:ec2/securityGroup:SecurityGroup").id
    assert rule.inputs["referencedSecurityGroupId"] == services_sg
    assert "cidrIpv4" not in rule.inputs and rule.inputs["fromPort"] == rule.inputs["toPort"] == 6379
    subnets = graph.one("aws:elasticache/subnetGroup:SubnetGroup").inputs["subnetIds"]
    private = {r.id for r in graph.of_type("aws:ec2/subnet:Subnet") if r.inputs["tags"]["tier"] == "private"}
    assert set(subnets) == private


def test_signoz_otlp_only_from_the_services_ui_only_from_the_configured_network() -> None:
    graph = built("staging")
    signoz_sg = graph.named("signoz-sg", "aws:ec2/securityGroup:SecurityGroup").id
    services_sg = graph.named("services-sg", "aws:ec2/securityGroup:SecurityGroup").id
    ingress = graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    rules = {r.inputs["fromPort"]: r.inputs for r in ingress if r.inputs["securityGroupId"] == signoz_sg}
    assert set(rules) == {4317, 4318, 3301}
    assert rules[4317]["referencedSecurityGroupId"] == rules[4318]["referencedSecurityGroupId"] == services_sg
    assert rules[3301]["cidrIpv4"] == stack_config("staging")["anime-vector-service:signozUiCidr"]
    instance = graph.one("aws:ec2/instance:Instance")
    assert instance.inputs["associatePublicIpAddress"] is False
    assert instance.inputs["metadataOptions"]["httpTokens"] == "required"
    script = instance.inputs["userData"]
    assert script.startswith("#!/bin/bash")
    assert "--branch v0.119.0 https://github.com/SigNoz/signoz.git" in script
    assert '"3301:8080"' in script and "docker compose up -d" in script
    volume = graph.one("aws:ebs/volume:Volume")
    assert volume.inputs["encrypted"] and volume.id.replace("-", "") in script
    record = graph.one("aws:route53/record:Record")
    zone = graph.one("aws:route53/zone:Zone")
    assert record.inputs["name"] == "signoz.internal.anime-vector-service" and record.inputs["type"] == "A"
    assert record.inputs["records"] == [instance.state["privateIp"]]
    assert zone.inputs["vpcs"][0]["vpcId"] == graph.one("aws:ec2/vpc:Vpc").id, "a private zone"


def test_budget_alerts_at_50_and_90_percent_to_the_alerts_topic_and_an_anomaly_monitor() -> None:
    graph = built("dev")
    topic = graph.one("aws:sns/topic:Topic", name="avs-dev-alerts")
    budget = graph.one("aws:budgets/budget:Budget")
    assert budget.inputs["limitAmount"] == "300.00" and budget.inputs["timeUnit"] == "MONTHLY"
    notes = budget.inputs["notifications"]
    assert sorted(n["threshold"] for n in notes) == [50, 90]
    assert all(
        n["thresholdType"] == "PERCENTAGE" and n["subscriberSnsTopicArns"] == [topic.state["arn"]]
        for n in notes
    )
    monitor = graph.one("aws:costexplorer/anomalyMonitor:AnomalyMonitor")
    assert json.loads(monitor.inputs["monitorSpecification"])["Tags"]["Key"] == "project"
    subscription = graph.one("aws:costexplorer/anomalySubscription:AnomalySubscription")
    assert subscription.inputs["monitorArnLists"] == [monitor.state["arn"]]
    assert subscription.inputs["subscribers"] == [{"type": "SNS", "address": topic.state["arn"]}]
    policy = json.loads(graph.named("alerts-policy").inputs["policy"])
    assert {"budgets.amazonaws.com", "costalerts.amazonaws.com"} <= set(
        policy["Statement"][0]["Principal"]["Service"]
    )


def test_secrets_hold_the_qdrant_credentials_and_api_keys_without_values_in_the_repository() -> None:
    graph = built("prod")
    assert {r.inputs["name"] for r in graph.of_type("aws:secretsmanager/secret:Secret")} == {
        "avs/prod/qdrant", "avs/prod/api-keys",
    }  # fmt: skip
    versions = graph.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert [v.inputs["secretString"] for v in versions] == ["[]"], (
        "only the empty key list; Qdrant comes from operators"
    )
    with pytest.raises(Exception, match="qdrantApiKey"):
        build_stack("dev", {**TEST_OVERRIDES, "qdrantUrl": "https://q.example"})


def test_a_qdrant_url_in_config_needs_its_key_and_then_seeds_the_secret() -> None:
    graph = build_stack(
        "dev",
        {**TEST_OVERRIDES, "qdrantUrl": "https://q.example", "qdrantApiKey": "k-123"},
        secret_keys=["anime-vector-service:qdrantApiKey"],
    )
    versions = graph.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    values = [json.loads(v.inputs["secretString"]) for v in versions if v.inputs["secretString"] != "[]"]
    assert values == [{"url": "https://q.example", "api_key": "k-123"}]


class _Source:
    """``load_config``'s view of a stack file (what pulumi.Config returns)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = {
            k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("anime-vector-service:")
        }

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def get_object(self, key: str) -> Any:
        raw = self.values.get(key)
        return None if raw is None else json.loads(raw)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"apiCacheTtlSeconds": "60"}, "apiCacheTtlSeconds must be within (300, 900)"),
        ({"apiCacheTtlSeconds": "1800"}, "apiCacheTtlSeconds"),
        ({"signozUiCidr": "0.0.0.0/0"}, "must not be the whole internet"),
        ({"vpcCidr": "10.0.0.1/16"}, "vpcCidr is not a CIDR block"),
        ({"natGateways": "3"}, "natGateways must be between 1 and 2"),
        ({"budgetMonthlyUsd": "-1"}, "budgetMonthlyUsd must be positive"),
        ({"services": json.dumps({"indexer": {"cpu": 256, "memory": 8192}})}, "not a Fargate size"),
        ({"services": json.dumps({"search": {"cpu": 256}})}, "unknown services ['search']"),
        ({"agenticPlanner": "gpt"}, "agenticPlanner must be one of"),
        ({"cdnAliases": json.dumps(["cdn.example.org"])}, "cdnAliases needs cdnCertificateArn"),
    ],
)
def test_bad_configuration_is_refused_with_the_key_and_the_fix(
    override: dict[str, str], message: str
) -> None:
    values = {
        **stack_config("dev", TEST_OVERRIDES),
        **{f"anime-vector-service:{k}": v for k, v in override.items()},
    }
    with pytest.raises(InfraConfigError) as err:
        load_config("dev", _Source(values))
    assert message in str(err.value)


def test_the_image_tag_and_the_stack_name_are_required() -> None:
    with pytest.raises(InfraConfigError, match="imageTag is required"):
        load_config("dev", _Source(stack_config("dev")))
    with pytest.raises(InfraConfigError, match="name the stack after its environment"):
        load_config("qa", _Source(stack_config("dev", TEST_OVERRIDES)))
    with pytest.raises(InfraConfigError, match="imageTag is required"):
        build_stack("dev")
