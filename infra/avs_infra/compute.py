"""ECR repositories, the ECS cluster and one Fargate service per service.

Each service has its own image repository, log group, execution role (pull its image,
write its logs, read its secrets) and task role (its grants from
:mod:`avs_infra.access`). Workers scale on the backlog of their queues (visible
messages per running task); the API on CPU, behind the internal NLB.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from avs_infra import iam
from avs_infra.access import grants_for
from avs_infra.config import StackConfig
from avs_infra.network import Network
from avs_infra.secrets import QDRANT_API_KEY_KEY, QDRANT_URL_KEY, Secrets
from avs_infra.services import SERVICES, ServiceSpec

KEEP_IMAGES = 30
STOP_TIMEOUT_S = 120  # > the worker's drain timeout (AVS_WORKER_DRAIN_TIMEOUT_SECONDS, 60 s)


@dataclass(frozen=True)
class ServiceRuntime:
    spec: ServiceSpec
    repository: aws.ecr.Repository
    task_definition: aws.ecs.TaskDefinition
    service: aws.ecs.Service
    task_role: aws.iam.Role
    execution_role: aws.iam.Role


@dataclass(frozen=True)
class Compute:
    cluster: aws.ecs.Cluster
    services: dict[str, ServiceRuntime]  # by package


def _lifecycle_policy() -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"keep the last {KEEP_IMAGES} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": KEEP_IMAGES,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )


def _execution_policy(
    repo: aws.ecr.Repository, logs: aws.cloudwatch.LogGroup, secret: aws.secretsmanager.Secret | None
) -> pulumi.Output[str]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": ["*"],
        },
        {
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            "Resource": [repo.arn],
        },
        {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [logs.arn.apply(lambda a: f"{a}:*")],
        },
    ]
    if secret is not None:
        statements.append(
            {
                "Sid": "InjectSecrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [secret.arn],
            }
        )
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


def _container(
    spec: ServiceSpec,
    image: pulumi.Output[str],
    logs: aws.cloudwatch.LogGroup,
    region: str,
    environment: Mapping[str, pulumi.Input[str]],
    secrets: Secrets,
) -> pulumi.Output[str]:
    definition: dict[str, Any] = {
        "name": spec.name,
        "image": image,
        "essential": True,
        "stopTimeout": STOP_TIMEOUT_S,
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": logs.name,
                "awslogs-region": region,
                "awslogs-stream-prefix": spec.name,
            },
        },
    }
    if spec.qdrant:
        definition["secrets"] = [
            {
                "name": "QDRANT_URL",
                "valueFrom": secrets.qdrant.arn.apply(lambda a: f"{a}:{QDRANT_URL_KEY}::"),
            },
            {
                "name": "QDRANT_API_KEY",
                "valueFrom": secrets.qdrant.arn.apply(lambda a: f"{a}:{QDRANT_API_KEY_KEY}::"),
            },
        ]
    if spec.port:
        definition["portMappings"] = [{"containerPort": spec.port, "protocol": "tcp"}]
    return pulumi.Output.json_dumps([definition])


def _scaling(
    cfg: StackConfig, spec: ServiceSpec, cluster: aws.ecs.Cluster, service: aws.ecs.Service
) -> aws.appautoscaling.Policy | None:
    sizing = cfg.sizing[spec.package]
    if sizing.max_tasks <= sizing.min_tasks:
        return None
    A = aws.appautoscaling
    target = A.Target(
        f"scaling-{spec.name}",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
        min_capacity=sizing.min_tasks,
        max_capacity=sizing.max_tasks,
        tags={"service": spec.name},
    )
    common: dict[str, Any] = dict(
        resource_id=target.resource_id,
        scalable_dimension=target.scalable_dimension,
        service_namespace=target.service_namespace,
        policy_type="TargetTrackingScaling",
    )
    if sizing.cpu_target is not None:
        config = A.PolicyTargetTrackingScalingPolicyConfigurationArgs(
            target_value=float(sizing.cpu_target),
            predefined_metric_specification=A.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                predefined_metric_type="ECSServiceAverageCPUUtilization"
            ),
            scale_in_cooldown=300,
            scale_out_cooldown=60,
        )
        return A.Policy(
            f"scaling-{spec.name}-cpu",
            name=f"{spec.name}-cpu",
            **common,
            target_tracking_scaling_policy_configuration=config,
        )
    return A.Policy(
        f"scaling-{spec.name}-backlog",
        name=f"{spec.name}-backlog",
        **common,
        target_tracking_scaling_policy_configuration=A.PolicyTargetTrackingScalingPolicyConfigurationArgs(
            target_value=float(sizing.backlog_per_task or 1),
            customized_metric_specification=_backlog_metric(spec, cluster, service),
            scale_in_cooldown=120,
            scale_out_cooldown=60,
        ),
    )


def _backlog_metric(spec: ServiceSpec, cluster: aws.ecs.Cluster, service: aws.ecs.Service) -> Any:
    """Visible messages on the service's queues per running task (metric math)."""
    A = aws.appautoscaling
    P = "PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecification"
    Metric = getattr(A, f"{P}MetricArgs")
    Stat = getattr(A, f"{P}MetricMetricStatArgs")
    Inner = getattr(A, f"{P}MetricMetricStatMetricArgs")
    Dim = getattr(A, f"{P}MetricMetricStatMetricDimensionArgs")

    def stat(namespace: str, name: str, dims: dict[str, pulumi.Input[str]]) -> Any:
        dimensions = [Dim(name=k, value=v) for k, v in dims.items()]
        return Stat(
            metric=Inner(namespace=namespace, metric_name=name, dimensions=dimensions), stat="Average"
        )

    metrics = [
        Metric(
            id=f"q{i}",
            label=queue,
            return_data=False,
            metric_stat=stat("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue}),
        )
        for i, queue in enumerate(spec.consumes)
    ]
    metrics.append(
        Metric(
            id="tasks",
            label="running tasks",
            return_data=False,
            metric_stat=stat(
                "ECS/ContainerInsights",
                "RunningTaskCount",
                {"ClusterName": cluster.name, "ServiceName": service.name},
            ),
        )
    )
    backlog = " + ".join(f"q{i}" for i in range(len(spec.consumes)))
    metrics.append(
        Metric(
            id="backlog",
            label="visible messages per task",
            return_data=True,
            expression=f"IF(tasks > 0, ({backlog}) / tasks, {backlog})",
        )
    )
    return getattr(A, f"{P}Args")(metrics=metrics)


def build_compute(
    cfg: StackConfig,
    network: Network,
    arns: iam.ArnRegistry,
    secrets: Secrets,
    environment: Mapping[str, pulumi.Input[str]],
    api_target_group: aws.lb.TargetGroup,
) -> Compute:
    """``environment``: variables every service gets (endpoints, telemetry)."""
    region = arns.region
    cluster = aws.ecs.Cluster(
        "cluster",
        name=f"avs-{cfg.environment}",
        settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
        tags={},
    )
    runtimes: dict[str, ServiceRuntime] = {}
    for spec in SERVICES:
        tags = {"service": spec.name}
        sizing = cfg.sizing[spec.package]
        repo = aws.ecr.Repository(
            f"ecr-{spec.name}",
            name=f"avs/{spec.name}",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            force_delete=False,
            tags=tags,
        )
        aws.ecr.LifecyclePolicy(f"ecr-{spec.name}", repository=repo.name, policy=_lifecycle_policy())
        logs = aws.cloudwatch.LogGroup(
            f"logs-{spec.name}",
            name=f"/avs/{cfg.environment}/{spec.name}",
            retention_in_days=cfg.log_retention_days,
            tags=tags,
        )
        execution = iam.role(
            f"exec-{spec.name}",
            "ecs-tasks.amazonaws.com",
            service=spec.name,
            description=f"ECS agent for {spec.name}: image, logs, secrets",
        )
        iam.inline_policy(
            f"exec-{spec.name}",
            execution,
            _execution_policy(repo, logs, secrets.qdrant if spec.qdrant else None),
        )
        task_role = iam.role(
            f"task-{spec.name}",
            "ecs-tasks.amazonaws.com",
            service=spec.name,
            description=f"what {spec.name} may do",
        )
        grants = grants_for(spec, bedrock=cfg.agentic_planner == "bedrock")
        iam.inline_policy(f"task-{spec.name}", task_role, iam.policy_document(grants, arns))

        env = {**environment, "AVS_SERVICE_NAME": spec.otel_name, "OTEL_SERVICE_NAME": spec.otel_name}
        env.update(_service_environment(cfg, spec, secrets))
        task = aws.ecs.TaskDefinition(
            f"task-{spec.name}",
            family=f"avs-{cfg.environment}-{spec.name}",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(sizing.cpu),
            memory=str(sizing.memory),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="X86_64"
            ),
            execution_role_arn=execution.arn,
            task_role_arn=task_role.arn,
            container_definitions=_container(
                spec, repo.repository_url.apply(lambda u: f"{u}:{cfg.image_tag}"), logs, region, env, secrets
            ),
            tags=tags,
        )
        groups = [network.services_sg.id] + ([network.api_sg.id] if spec.port else [])
        scaled = sizing.max_tasks > sizing.min_tasks
        service = aws.ecs.Service(
            f"svc-{spec.name}",
            name=spec.name,
            cluster=cluster.arn,
            task_definition=task.arn,
            desired_count=sizing.min_tasks,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=network.private_subnet_ids, security_groups=groups, assign_public_ip=False
            ),
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            deployment_minimum_healthy_percent=100 if spec.port else 50,
            deployment_maximum_percent=200,
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=api_target_group.arn, container_name=spec.name, container_port=spec.port
                )
            ]
            if spec.port
            else None,
            health_check_grace_period_seconds=90 if spec.port else None,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            wait_for_steady_state=False,
            tags=tags,
            opts=pulumi.ResourceOptions(ignore_changes=["desired_count"] if scaled else None),
        )
        _scaling(cfg, spec, cluster, service)
        runtimes[spec.package] = ServiceRuntime(spec, repo, task, service, task_role, execution)
    return Compute(cluster=cluster, services=runtimes)


def _service_environment(
    cfg: StackConfig, spec: ServiceSpec, secrets: Secrets
) -> dict[str, pulumi.Input[str]]:
    if spec.package == "api":
        return {
            "AVS_API_HOST": "0.0.0.0",
            "AVS_API_PORT": str(spec.port),
            "AVS_API_KEYS_SECRET_ID": secrets.api_keys.arn,
            # API Gateway adds the client's address to X-Forwarded-For; the NLB adds nothing.
            "AVS_RATE_LIMIT_TRUSTED_PROXIES": "1",
            "AVS_AGENTIC_PLANNER": cfg.agentic_planner,
            "AVS_BEDROCK_MODEL_ID": cfg.bedrock_model_id,
        }
    return {}
