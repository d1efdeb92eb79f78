"""Least privilege: each role's policy, as the program builds it, allows what its service
needs and nothing on the deny list, evaluated like IAM (action and resource patterns,
conditions) against the ARNs of the resources the program created."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

from avs_infra.access import OWNED_FIELDS, UNSCOPED_ACTIONS  # noqa: E402
from avs_infra.mocking import StackGraph, built  # noqa: E402
from avs_infra.services import SERVICES  # noqa: E402

from avs_shared.adapters.dynamo_entries import DynamoEntryStore  # noqa: E402
from avs_shared.topology import (  # noqa: E402
    ENTRIES_OVERFLOW_PREFIX,
    SCHEDULE_GROUP_EPISODES,
    SNAPSHOT_KEY,
    TOPOLOGY,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

Context = Mapping[str, Any]


# ---------------------------------------------------------------------------- a small IAM evaluator
def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], ctx: Context) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            wanted = [str(v) for v in _list(expected)]
            present = key in ctx
            got = [str(v) for v in _list(ctx.get(key, []))]
            if operator == "ForAllValues:StringEquals":
                if not set(got) <= set(wanted):
                    return False
            elif operator in {"StringEquals", "ArnEquals"}:
                if not present or not any(g in wanted for g in got):
                    return False
            elif operator == "StringEqualsIfExists":
                if present and not any(g in wanted for g in got):
                    return False
            else:
                raise AssertionError(f"the evaluator does not know {operator}")
    return True


def allows(policy: Mapping[str, Any], action: str, resource: str, ctx: Context | None = None) -> bool:
    for st in policy["Statement"]:
        assert st["Effect"] == "Allow", "role policies only allow"
        if not any(fnmatchcase(action.lower(), a.lower()) for a in _list(st["Action"])):
            continue
        if not any(fnmatchcase(resource, r) for r in _list(st["Resource"])):
            continue
        if "Condition" in st and not _condition_holds(st["Condition"], ctx or {}):
            continue
        return True
    return False


# ---------------------------------------------------------------------------- the graph's ARNs
class Arns:
    def __init__(self, graph: StackGraph) -> None:
        self.g = graph
        self.bucket = graph.one("aws:s3/bucket:Bucket").state["arn"]

    def table(self, name: str) -> str:
        return self.g.one("aws:dynamodb/table:Table", name=name).state["arn"]

    def queue(self, name: str) -> str:
        return self.g.one("aws:sqs/queue:Queue", name=name).state["arn"]

    def topic(self, name: str) -> str:
        return self.g.one("aws:sns/topic:Topic", name=name).state["arn"]

    def obj(self, key: str) -> str:
        return f"{self.bucket}/{key}"

    def machine(self) -> str:
        return self.g.one("aws:sfn/stateMachine:StateMachine").state["arn"]

    def secret(self, suffix: str) -> str:
        (s,) = [
            r for r in self.g.of_type("aws:secretsmanager/secret:Secret") if r.inputs["name"].endswith(suffix)
        ]
        return s.state["arn"]

    def every(self) -> list[str]:
        """Every ARN of the stack, and ``*``: where a denied action must be refused."""
        found = ["*", self.bucket, self.obj("images/x.jpg"), self.obj(SNAPSHOT_KEY)]
        found += [r.state["arn"] for r in self.g.resources if isinstance(r.state.get("arn"), str)]
        return found


def policy_of(graph: StackGraph, logical: str) -> dict[str, Any]:
    return json.loads(graph.named(logical, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])


# ---------------------------------------------------------------------------- what each service needs
def needs(a: Arns) -> dict[str, list[tuple[str, str, Context]]]:
    t, q, o = a.table, a.queue, a.obj
    attrs = lambda *names: {"dynamodb:Attributes": ["anime_id", "version", "updated_at", *names]}  # noqa: E731
    worker = [
        ("dynamodb:PutItem", t("anime-handler-idempotency"), {}),
        ("dynamodb:DeleteItem", t("anime-handler-idempotency"), {}),
        ("s3:PutObject", o("staging/claims/ab/cd.json"), {}),
        ("s3:GetObject", o("staging/claims/ab/cd.json"), {}),
        ("sns:ListTopics", "*", {}),
    ]

    def consume(*queues: str) -> list[tuple[str, str, Context]]:
        out: list[tuple[str, str, Context]] = []
        for name in queues:
            out += [
                (f"sqs:{x}", q(name), {})
                for x in ("ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility")
            ]
            out += [("sqs:SendMessage", q(f"{name}-dlq"), {}), ("sqs:GetQueueUrl", q(f"{name}-dlq"), {})]
        return out

    dlqs = [x.dlq_name for x in TOPOLOGY.queues if x.dlq_name]
    return {
        "api": [
            *worker,
            *consume("review-requests"),
            ("dynamodb:GetItem", t("anime-enriched-data"), {}),
            ("dynamodb:Query", t("anime-enriched-data") + "/index/system_status-index", {}),
            ("dynamodb:DescribeTable", t("anime-enriched-data"), {}),
            ("dynamodb:PutItem", t("anime-review-tasks"), {}),
            ("dynamodb:Query", t("anime-review-tasks") + "/index/status-index", {}),
            ("s3:GetObject", o(f"{ENTRIES_OVERFLOW_PREFIX}a/v1/characters-x.json"), {}),
            ("states:SendTaskSuccess", "*", {}),
            ("states:SendTaskFailure", "*", {}),
            (
                "states:DescribeExecution",
                a.machine().replace(":stateMachine:", ":execution:") + ":review-x",
                {},
            ),
            ("secretsmanager:GetSecretValue", a.secret("/api-keys"), {}),
            *[("sqs:ReceiveMessage", q(d), {}) for d in [*dlqs, "image-ingestion-failures"]],
            *[("sqs:StartMessageMoveTask", q(d), {}) for d in dlqs],
            *[("sqs:SendMessage", q(d.removesuffix("-dlq")), {}) for d in dlqs],
            ("sns:Publish", a.topic("image-requested"), {}),
        ],
        "sync": [
            *worker,
            ("dynamodb:Scan", t("anime-enriched-data"), {}),
            ("dynamodb:UpdateItem", t("anime-enriched-data"), attrs("system_status", "orphaned_at")),
            ("dynamodb:PutItem", t("anime-processing-locks"), {}),
            ("sns:Publish", a.topic("anime-new"), {}),
            ("sqs:SendMessage", q("review-requests"), {}),
            ("s3:GetObject", o(SNAPSHOT_KEY), {}),
            ("s3:PutObject", o(SNAPSHOT_KEY), {}),
            ("s3:ListBucket", a.bucket, {}),
            ("states:StartExecution", a.machine(), {}),
            ("sqs:GetQueueAttributes", q("enricher-episode-update"), {}),
            (
                "scheduler:CreateSchedule",
                f"arn:aws:scheduler:us-east-1:123456789012:schedule/{SCHEDULE_GROUP_EPISODES}/animeId-x-episode-3",
                {},
            ),
            (
                "iam:PassRole",
                a.g.named("scheduler-role", "aws:iam/role:Role").state["arn"],
                {"iam:PassedToService": "scheduler.amazonaws.com"},
            ),
        ],
        "enricher": [
            *worker,
            *consume("enricher-anime-new", "enricher-episode-update"),
            ("sns:Publish", a.topic("image-requested"), {}),
            ("states:StartExecution", a.machine(), {}),
            ("states:ListStateMachines", "*", {}),
            ("sqs:GetQueueUrl", q("review-requests"), {}),
            ("dynamodb:GetItem", t("anime-enriched-data"), {}),
            ("s3:PutObject", o("staging/entries/x.json"), {}),
            ("s3:ListBucket", a.bucket, {}),
        ],
        "image_ingestor": [
            *worker,
            *consume("image-ingestor-image-requested"),
            ("sqs:SendMessage", q("image-ingestion-failures"), {}),
            ("dynamodb:PutItem", t("image-deduplication-map"), {}),
            ("dynamodb:UpdateItem", t("image-deduplication-map"), {}),
            ("s3:PutObject", o("images/0f.jpg"), {}),
            ("s3:GetObject", o("images/0f.jpg"), {}),
            ("s3:ListBucket", a.bucket, {}),
            ("s3:GetObject", o(f"{ENTRIES_OVERFLOW_PREFIX}a/v3/characters-x.json"), {}),
            (
                "dynamodb:UpdateItem",
                t("anime-enriched-data"),
                attrs("images", "characters", "_avs_content_sha256"),
            ),
        ],
        "indexer": [
            *worker,
            *consume("indexer-entry-approved", "indexer-bulk-chunks"),
            ("dynamodb:PutItem", t("anime-enriched-data"), {}),
            ("dynamodb:BatchWriteItem", t("anime-enriched-data"), {}),
            ("dynamodb:Scan", t("anime-enriched-data"), {}),
            ("dynamodb:DeleteItem", t("anime-processing-locks"), {}),
            ("dynamodb:GetItem", t("image-deduplication-map"), {}),
            ("dynamodb:PutItem", t("anime-bulk-jobs"), {}),
            ("sqs:SendMessage", q("indexer-bulk-chunks"), {}),
            ("s3:PutObject", o(SNAPSHOT_KEY), {}),
            ("s3:AbortMultipartUpload", o(SNAPSHOT_KEY), {}),
            ("s3:PutObject", o("processed/updated-entries/a.json"), {}),
            ("s3:DeleteObject", o(f"{ENTRIES_OVERFLOW_PREFIX}a/v1/x.json"), {}),
            ("s3:GetObject", o("staging/bulk/job/0001.json"), {}),
            ("s3:ListBucket", a.bucket, {}),
        ],
    }


# Nobody's task role may do these, on anything.
DENIED_TO_ALL = (
    "dynamodb:CreateTable",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "dynamodb:UpdateTimeToLive",
    "s3:DeleteBucket",
    "s3:PutBucketPolicy",
    "s3:PutLifecycleConfiguration",
    "s3:DeleteObjectVersion",
    "sqs:CreateQueue",
    "sqs:DeleteQueue",
    "sqs:PurgeQueue",
    "sqs:SetQueueAttributes",
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
    "states:CreateStateMachine",
    "states:DeleteStateMachine",
    "states:UpdateStateMachine",
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "secretsmanager:PutSecretValue",
    "secretsmanager:DeleteSecret",
    "kms:ScheduleKeyDeletion",
    "ecs:RunTask",
)


def denied(a: Arns) -> dict[str, list[tuple[str, str, Context]]]:
    t, o = a.table, a.obj
    entries = t("anime-enriched-data")
    nobody = [("dynamodb:DeleteItem", entries, {})]  # nothing is ever deleted
    return {
        "api": [
            *nobody,
            ("dynamodb:PutItem", entries, {}),
            ("dynamodb:UpdateItem", entries, {"dynamodb:Attributes": ["anime_id", "system_status"]}),
            ("dynamodb:BatchWriteItem", entries, {}),
            ("s3:PutObject", o("images/x.jpg"), {}),
            ("s3:DeleteObject", o(SNAPSHOT_KEY), {}),
            ("states:StartExecution", a.machine(), {}),
            ("secretsmanager:GetSecretValue", a.secret("/qdrant"), {}),
            ("sns:Publish", a.topic("entry-approved"), {}),
            ("s3:ListBucket", a.bucket, {}),
        ],
        "sync": [
            *nobody,
            ("dynamodb:PutItem", entries, {}),
            ("dynamodb:UpdateItem", entries, {"dynamodb:Attributes": ["anime_id", "title", "version"]}),
            ("sns:Publish", a.topic("entry-approved"), {}),
            ("s3:PutObject", o("images/x.jpg"), {}),
            ("iam:PassRole", a.g.named("task-sync", "aws:iam/role:Role").state["arn"], {}),
            (
                "iam:PassRole",
                a.g.named("scheduler-role", "aws:iam/role:Role").state["arn"],
                {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
            ),
        ],
        "enricher": [
            *nobody,
            ("dynamodb:PutItem", entries, {}),
            ("dynamodb:UpdateItem", entries, {"dynamodb:Attributes": ["anime_id", "images"]}),
            ("sns:Publish", a.topic("entry-approved"), {}),  # only an approved review publishes it
            ("states:SendTaskSuccess", "*", {}),
            ("s3:PutObject", o(SNAPSHOT_KEY), {}),
        ],
        "image_ingestor": [
            *nobody,
            ("dynamodb:PutItem", entries, {}),
            ("dynamodb:BatchWriteItem", entries, {}),
            ("dynamodb:UpdateItem", entries, {"dynamodb:Attributes": ["anime_id", "title", "version"]}),
            ("dynamodb:UpdateItem", entries, {"dynamodb:Attributes": ["anime_id", "system_status"]}),
            (
                "dynamodb:UpdateItem",
                entries,
                {"dynamodb:Attributes": ["anime_id", "images"], "dynamodb:ReturnValues": "ALL_OLD"},
            ),
            ("s3:PutObject", o(SNAPSHOT_KEY), {}),
            ("s3:DeleteObject", o("images/x.jpg"), {}),
            ("sns:Publish", a.topic("image-requested"), {}),
        ],
        "indexer": [
            *nobody,
            ("s3:PutObject", o("images/x.jpg"), {}),
            ("s3:DeleteObject", o(SNAPSHOT_KEY), {}),
            ("sns:Publish", a.topic("anime-new"), {}),
            ("dynamodb:PutItem", t("image-deduplication-map"), {}),
        ],
    }


# ---------------------------------------------------------------------------- tests
@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.package)
def test_each_task_role_allows_what_its_service_needs(stack: str, spec: Any) -> None:
    graph = built(stack)
    a = Arns(graph)
    policy = policy_of(graph, f"task-{spec.name}")
    missing = [
        (act, res, ctx) for act, res, ctx in needs(a)[spec.package] if not allows(policy, act, res, ctx)
    ]
    assert not missing, f"{spec.name} cannot: {missing}"


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.package)
def test_each_task_role_refuses_the_deny_list(spec: Any) -> None:
    graph = built("prod")
    a = Arns(graph)
    policy = policy_of(graph, f"task-{spec.name}")
    granted = [(act, res) for act in DENIED_TO_ALL for res in a.every() if allows(policy, act, res)]
    assert not granted, f"{spec.name} may {granted}"
    allowed = [(act, res, ctx) for act, res, ctx in denied(a)[spec.package] if allows(policy, act, res, ctx)]
    assert not allowed, f"{spec.name} may {allowed}"


def test_only_the_api_uses_bedrock_and_only_where_it_is_the_planner() -> None:
    for stack, expected in (("dev", False), ("prod", True)):
        graph = built(stack)
        model = "arn:aws:bedrock:us-east-1::foundation-model/qwen.qwen3-32b-v1:0"
        for spec in SERVICES:
            got = allows(policy_of(graph, f"task-{spec.name}"), "bedrock:InvokeModel", model)
            assert got is (expected and spec.package == "api"), (stack, spec.name)


def test_partial_writers_may_update_only_the_fields_they_own() -> None:
    graph = built("dev")
    entries = Arns(graph).table("anime-enriched-data")
    for package, fields in OWNED_FIELDS.items():
        spec = next(s for s in SERVICES if s.package == package)
        policy = policy_of(graph, f"task-{spec.name}")
        for field in fields:
            assert allows(
                policy, "dynamodb:UpdateItem", entries, {"dynamodb:Attributes": ["anime_id", field]}
            )
        assert not allows(
            policy, "dynamodb:UpdateItem", entries, {"dynamodb:Attributes": ["anime_id", "synopsis"]}
        )


def test_every_role_policy_names_explicit_actions_and_star_only_where_aws_cannot_scope() -> None:
    for stack in ("dev", "staging", "prod"):
        graph = built(stack)
        for rp in graph.of_type("aws:iam/rolePolicy:RolePolicy"):
            for st in json.loads(rp.inputs["policy"])["Statement"]:
                assert st["Effect"] == "Allow", rp.name
                actions = _list(st["Action"])
                assert not any("*" in x for x in actions), (rp.name, actions)
                if "*" in _list(st["Resource"]):
                    assert set(actions) <= UNSCOPED_ACTIONS, (rp.name, actions)


def test_execution_roles_pull_only_their_image_and_inject_only_their_secrets() -> None:
    graph = built("prod")
    a = Arns(graph)
    qdrant = a.secret("/qdrant")
    for spec in SERVICES:
        policy = policy_of(graph, f"exec-{spec.name}")
        repo = graph.one("aws:ecr/repository:Repository", name=f"avs/{spec.name}").state["arn"]
        assert allows(policy, "ecr:BatchGetImage", repo)
        others = [
            r.state["arn"] for r in graph.of_type("aws:ecr/repository:Repository") if r.state["arn"] != repo
        ]
        assert not any(allows(policy, "ecr:BatchGetImage", o) for o in others)
        logs = graph.named(f"logs-{spec.name}", "aws:cloudwatch/logGroup:LogGroup").state["arn"]
        assert allows(policy, "logs:PutLogEvents", f"{logs}:log-stream:{spec.name}/x")
        assert allows(policy, "secretsmanager:GetSecretValue", qdrant) is spec.qdrant


def test_the_state_machine_role_allows_exactly_the_integrations_of_its_asl_file() -> None:
    graph = built("dev")
    a = Arns(graph)
    (spec,) = TOPOLOGY.state_machines
    definition = json.loads((REPO / "infra" / spec.definition).read_text())
    policy = policy_of(graph, f"states-{spec.name}")
    integrations = set(_task_resources(definition["States"].values()))
    mapping = {
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken": ("sqs:SendMessage", a.queue("review-requests")),
        "arn:aws:states:::sqs:sendMessage": ("sqs:SendMessage", a.queue("review-requests")),
        "arn:aws:states:::sns:publish": ("sns:Publish", a.topic("entry-approved")),
        "arn:aws:states:::dynamodb:deleteItem": ("dynamodb:DeleteItem", a.table("anime-processing-locks")),
        "arn:aws:states:::dynamodb:updateItem": ("dynamodb:UpdateItem", a.table("anime-processing-locks")),
    }
    unknown = integrations - set(mapping)
    assert not unknown, f"the ASL uses {unknown}: grant them in avs_infra.access.state_machine_grants"
    for integration in integrations:
        assert allows(policy, *mapping[integration]), integration
    granted = {s["Sid"] for s in policy["Statement"]} - {"Logs"}
    assert len(granted) == len({mapping[i][0] for i in integrations}), "nothing beyond what the ASL calls"
    assert not allows(policy, "dynamodb:DeleteItem", a.table("anime-enriched-data"))


def _task_resources(states: Iterable[Mapping[str, Any]]) -> Iterable[str]:
    for state in states:
        if state.get("Type") == "Task":
            yield state["Resource"]
        for branch in state.get("Branches", []):
            yield from _task_resources(branch["States"].values())
        if "Iterator" in state:
            yield from _task_resources(state["Iterator"]["States"].values())


def test_the_overflow_prefix_of_the_catalogue_is_the_entry_stores() -> None:
    import inspect

    default = inspect.signature(DynamoEntryStore.__init__).parameters["overflow_prefix"].default
    assert default == ENTRIES_OVERFLOW_PREFIX
