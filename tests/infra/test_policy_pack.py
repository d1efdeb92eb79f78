"""The policy pack (infra/policy) rejects resources without the tags project, environment
and service; its validate function is called directly, as the Pulumi engine would."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
)

REPO = Path(__file__).resolve().parents[2]
POLICY_DIR = REPO / "infra" / "policy"
sys.path[:0] = [str(REPO / "infra"), str(POLICY_DIR)]

from avs_infra.mocking import built  # noqa: E402
from avs_policy import REQUIRED_TAGS, REQUIRED_TAGS_POLICY, is_taggable, takes_tags  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TAGS = {"project": "anime-vector-service", "environment": "dev", "service": "api"}


def violations(resource_type: str, props: dict[str, Any], name: str = "r") -> list[str]:
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    urn = f"urn:pulumi:dev::anime-vector-service::{resource_type}::{name}"
    args = ResourceValidationArgs(resource_type, props, urn, name, opts, None)
    found: list[str] = []
    result = REQUIRED_TAGS_POLICY.validate(args, lambda message, urn=None: found.append(message))
    assert result is None, "a synchronous policy"
    return found


def test_an_untagged_resource_is_rejected() -> None:
    (message,) = violations("aws:s3/bucket:Bucket", {"bucket": "b"}, name="data")
    assert "'data'" in message and "['project', 'environment', 'service']" in message


@pytest.mark.parametrize("missing", REQUIRED_TAGS)
def test_each_missing_or_empty_tag_is_rejected(missing: str) -> None:
    for tags in ({k: v for k, v in TAGS.items() if k != missing}, {**TAGS, missing: " "}):
        (message,) = violations("aws:sqs/queue:Queue", {"name": "q", "tags": tags})
        assert f"['{missing}']" in message


def test_a_fully_tagged_resource_passes_and_untaggable_types_are_not_asked() -> None:
    assert violations("aws:dynamodb/table:Table", {"name": "t", "tags": TAGS}) == []
    assert violations("aws:iam/rolePolicy:RolePolicy", {"policy": "{}"}) == []
    assert violations("pulumi:providers:aws", {"region": "us-east-1"}) == []
    assert (
        takes_tags("aws:sqs/queue:Queue") is True
        and takes_tags("aws:sns/topicSubscription:TopicSubscription") is False
    )
    assert is_taggable("random:index/randomId:RandomId", {"tags": None}), "an unknown type with a tags input"
    assert violations("example:index/thing:Thing", {"tags": {"project": "x"}}) != []


def test_the_pack_is_mandatory_and_runs_as_a_python_policy_pack() -> None:
    assert REQUIRED_TAGS_POLICY.enforcement_level == EnforcementLevel.MANDATORY
    manifest = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    main = ast.parse((POLICY_DIR / "__main__.py").read_text())
    calls = [
        n for n in ast.walk(main) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PolicyPack"
    ]
    (call,) = calls
    policies = next(k.value for k in call.keywords if k.arg == "policies")
    assert [e.id for e in policies.elts] == ["REQUIRED_TAGS_POLICY"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_program_passes_its_own_policy(stack: str) -> None:
    graph = built(stack)
    found = [m for r in graph.resources for m in violations(r.type, r.inputs, r.name)]
    assert found == []
    stripped = next(r for r in graph.resources if r.type == "aws:sqs/queue:Queue")
    assert violations(stripped.type, {k: v for k, v in stripped.inputs.items() if k != "tags"}) != []
