"""Every taggable resource of every stack carries project, environment and service."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "infra"), str(REPO / "infra" / "policy")]

from avs_infra.config import PROJECT  # noqa: E402
from avs_infra.mocking import built  # noqa: E402
from avs_infra.services import SERVICES  # noqa: E402
from avs_infra.tags import PLATFORM, merged_tags  # noqa: E402
from avs_policy import takes_tags  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
KNOWN_SERVICES = {s.name for s in SERVICES} | {PLATFORM, "signoz"}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_taggable_resource_carries_the_three_tags(stack: str) -> None:
    graph = built(stack)
    taggable = [r for r in graph.resources if takes_tags(r.type)]
    assert len(taggable) > 100
    for r in taggable:
        tags = r.inputs.get("tags") or {}
        assert tags.get("project") == PROJECT, (r.type, r.name, tags)
        assert tags.get("environment") == stack, (r.type, r.name, tags)
        assert tags.get("service") in KNOWN_SERVICES, (r.type, r.name, tags)
    unknown = sorted({r.type for r in graph.resources if takes_tags(r.type) is None})
    assert not unknown, f"resource types the tag check cannot classify: {unknown}"


def test_per_service_resources_are_tagged_with_their_service() -> None:
    graph = built("prod")
    for spec in SERVICES:
        for token, name in [
            ("aws:ecs/service:Service", f"svc-{spec.name}"),
            ("aws:ecs/taskDefinition:TaskDefinition", f"task-{spec.name}"),
            ("aws:ecr/repository:Repository", f"ecr-{spec.name}"),
            ("aws:iam/role:Role", f"task-{spec.name}"),
            ("aws:cloudwatch/logGroup:LogGroup", f"logs-{spec.name}"),
        ]:
            assert graph.named(name, token).inputs["tags"]["service"] == spec.name


def test_the_fixed_tags_cannot_be_overridden_and_service_defaults_to_platform() -> None:
    assert merged_tags(None, "dev") == {"project": PROJECT, "environment": "dev", "service": PLATFORM}
    assert merged_tags({"service": "api", "Name": "x"}, "prod")["service"] == "api"
    with pytest.raises(ValueError, match="contradicts"):
        merged_tags({"environment": "prod"}, "dev")
    with pytest.raises(ValueError, match="contradicts"):
        merged_tags({"project": "other"}, "dev")
