"""Cron rules and the Scheduler group: the catalogue's expressions, run as the owner's task."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

from avs_infra.mocking import built  # noqa: E402
from avs_infra.services import service  # noqa: E402

from avs_shared.runtime.cron_expr import parse  # noqa: E402
from avs_shared.topology import SCHEDULER_ROLE, TOPOLOGY  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_cron_rules_carry_the_catalogue_expressions_verbatim(stack: str) -> None:
    graph = built(stack)
    rules = {r.inputs["name"]: r.inputs for r in graph.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert {n: r["scheduleExpression"] for n, r in rules.items()} == {
        s.name: s.expression for s in TOPOLOGY.schedules
    }
    for schedule in TOPOLOGY.schedules:
        parse(rules[schedule.name]["scheduleExpression"])  # the local cron reads the same syntax
        assert rules[schedule.name]["state"] == "ENABLED"


def test_the_catalogue_names_the_weekly_sync_and_daily_scheduler_of_the_architecture() -> None:
    expressions = {s.name: s.expression for s in TOPOLOGY.schedules}
    assert expressions["weekly-sync"] == "cron(0 1 ? * SAT *)"
    assert expressions["daily-episode-scheduler"] == "cron(5 0 * * ? *)"


def test_each_rule_runs_one_task_of_its_owner_service_with_its_cron_command() -> None:
    graph = built("prod")
    cluster = graph.one("aws:ecs/cluster:Cluster").state["arn"]
    targets = {t.inputs["rule"]: t.inputs for t in graph.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    for schedule in TOPOLOGY.schedules:
        owner = service(schedule.service)
        target = targets[schedule.name]
        assert target["arn"] == cluster
        task = graph.named(f"task-{owner.name}", "aws:ecs/taskDefinition:TaskDefinition")
        assert target["ecsTarget"]["taskDefinitionArn"] == task.state["arn"]
        assert target["ecsTarget"]["launchType"] == "FARGATE" and target["ecsTarget"]["taskCount"] == 1
        assert target["ecsTarget"]["networkConfiguration"]["assignPublicIp"] is False
        (override,) = json.loads(target["input"])["containerOverrides"]
        assert override == {
            "name": owner.name,
            "command": ["python", "-m", owner.module, schedule.name],
        }
        role = graph.named(f"cron-{owner.name}", "aws:iam/role:Role")
        assert target["roleArn"] == role.state["arn"]
        policy = json.loads(
            graph.named(f"cron-{owner.name}", "aws:iam/rolePolicy:RolePolicy").inputs["policy"]
        )
        run = next(s for s in policy["Statement"] if s["Sid"] == "RunTask")
        assert run["Resource"] == [task.state["arnWithoutRevision"] + ":*"]
        assert run["Condition"] == {"ArnEquals": {"ecs:cluster": cluster}}
        passed = next(s for s in policy["Statement"] if s["Sid"] == "PassTaskRoles")
        task_role = graph.named(f"task-{owner.name}", "aws:iam/role:Role").state["arn"]
        exec_role = graph.named(f"exec-{owner.name}", "aws:iam/role:Role").state["arn"]
        assert sorted(passed["Resource"]) == sorted([task_role, exec_role])


def test_the_scheduler_group_and_its_role_deliver_only_to_the_episode_queue() -> None:
    graph = built("dev")
    (group_spec,) = TOPOLOGY.schedule_groups
    group = graph.one("aws:scheduler/scheduleGroup:ScheduleGroup", name=group_spec.name)
    role = graph.named("scheduler-role", "aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    policy = json.loads(graph.named("scheduler-role", "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    queue = graph.one("aws:sqs/queue:Queue", name=group_spec.target_queue).state["arn"]
    assert policy["Statement"] == [
        {"Sid": "Deliver", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [queue]}
    ]
    assert role.inputs["name"] == SCHEDULER_ROLE, "the sync names this role in the schedules it creates"
    assert group.state["arn"].endswith(f":schedule-group/{group_spec.name}")
