"""Cron jobs and the episode schedule group.

Each catalogue schedule is an EventBridge rule (its ``cron(...)``/``rate(...)``
expression, UTC) whose target runs one Fargate task of the owning service with the
command :func:`avs_infra.services.cron_command`. The rule's role may run only that
service's task definition on this cluster and pass only its two roles to ECS.

The EventBridge Scheduler group holds the one-time episode schedules the sync creates
at run time; the scheduler's role may only send to the group's target queue.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from avs_infra import iam
from avs_infra.access import SCHEDULER
from avs_infra.compute import Compute
from avs_infra.messaging import Messaging
from avs_infra.network import Network
from avs_infra.services import cron_command, scheduled, service
from avs_shared.topology import SCHEDULER_ROLE, TOPOLOGY


def build_schedule_groups(
    messaging: Messaging, arns: iam.ArnRegistry, account_id: pulumi.Input[str]
) -> aws.iam.Role:
    """The Scheduler groups and the role their schedules assume (registered as ``scheduler``)."""
    groups = [
        aws.scheduler.ScheduleGroup(f"schedule-group-{g.name}", name=g.name, tags={"service": "sync"})
        for g in TOPOLOGY.schedule_groups
    ]
    role = iam.role(
        "scheduler-role",
        "scheduler.amazonaws.com",
        service="sync",
        description="one-time episode schedules: deliver to their queue",
        condition={"StringEquals": {"aws:SourceAccount": account_id}},
        name=SCHEDULER_ROLE,  # the sync names it in every schedule it creates
    )
    targets = [messaging.queues[g.target_queue].arn for g in TOPOLOGY.schedule_groups]
    iam.inline_policy(
        "scheduler-role",
        role,
        pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "Deliver", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": targets}
                ],
            }
        ),
    )
    for spec, group in zip(TOPOLOGY.schedule_groups, groups, strict=True):
        arns.schedule_groups[spec.name] = group.arn
    arns.roles[SCHEDULER] = role.arn
    return role


def build_cron_rules(compute: Compute, network: Network) -> list[aws.cloudwatch.EventRule]:
    rules: list[aws.cloudwatch.EventRule] = []
    roles: dict[str, aws.iam.Role] = {}
    for schedule in scheduled():
        owner = compute.services[service(schedule.service).package]
        name = owner.spec.name
        if name not in roles:
            roles[name] = iam.role(
                f"cron-{name}",
                "events.amazonaws.com",
                service=name,
                description=f"EventBridge runs {name}'s scheduled tasks",
            )
            iam.inline_policy(
                f"cron-{name}",
                roles[name],
                pulumi.Output.json_dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "RunTask",
                                "Effect": "Allow",
                                "Action": ["ecs:RunTask"],
                                "Resource": [
                                    owner.task_definition.arn_without_revision.apply(lambda a: f"{a}:*")
                                ],
                                "Condition": {"ArnEquals": {"ecs:cluster": compute.cluster.arn}},
                            },
                            {
                                "Sid": "PassTaskRoles",
                                "Effect": "Allow",
                                "Action": ["iam:PassRole"],
                                "Resource": [owner.task_role.arn, owner.execution_role.arn],
                                "Condition": {
                                    "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
                                },
                            },
                        ],
                    }
                ),
            )
        rule = aws.cloudwatch.EventRule(
            f"cron-{schedule.name}",
            name=schedule.name,
            description=schedule.description,
            schedule_expression=schedule.expression,
            state="ENABLED",
            tags={"service": name},
        )
        overrides = {"containerOverrides": [{"name": name, "command": cron_command(schedule)}]}
        aws.cloudwatch.EventTarget(
            f"cron-{schedule.name}",
            rule=rule.name,
            arn=compute.cluster.arn,
            role_arn=roles[name].arn,
            input=json.dumps(overrides),
            ecs_target=aws.cloudwatch.EventTargetEcsTargetArgs(
                task_definition_arn=owner.task_definition.arn,
                task_count=1,
                launch_type="FARGATE",
                platform_version="LATEST",
                propagate_tags="TASK_DEFINITION",
                network_configuration=aws.cloudwatch.EventTargetEcsTargetNetworkConfigurationArgs(
                    subnets=network.private_subnet_ids,
                    security_groups=[network.services_sg.id],
                    assign_public_ip=False,
                ),
            ),
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
            ),
        )
        rules.append(rule)
    return rules
