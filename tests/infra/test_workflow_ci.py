"""The GitHub Actions workflow, checked by parsing it: tests on pull requests, a
``pulumi preview`` of every stack on pull requests, ``pulumi up`` on main with OIDC."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
sys.path.insert(0, str(REPO / "infra"))

from avs_infra.config import PROJECT  # noqa: E402
from avs_infra.mocking import built  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
STACKS = sorted(p.name.split(".")[1] for p in (REPO / "infra").glob("Pulumi.*.yaml"))


@cache
def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    return data


def job(name: str) -> dict[str, Any]:
    found: dict[str, Any] = workflow()["jobs"][name]
    return found


def uses(job_name: str, action: str) -> list[dict[str, Any]]:
    return [s for s in job(job_name)["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def runs(job_name: str) -> str:
    return "\n".join(s.get("run", "") for s in job(job_name)["steps"])


def test_triggers_are_pull_requests_and_pushes_to_main() -> None:
    on = workflow()["on"]
    assert "pull_request" in on
    assert on["push"]["branches"] == ["main"]
    assert workflow()["permissions"] == {"contents": "read"}, "least privilege by default"
    assert set(workflow()["jobs"]) == {"test", "preview", "deploy"}


def test_the_test_job_runs_the_ci_entry_point_on_python_3_11() -> None:
    assert "if" not in job("test"), "runs on pull requests and on main"
    assert re.search(r"(^|\n)bash \.ci/run($|\n)", runs("test"))
    (setup,) = uses("test", "actions/setup-python")
    version = setup["with"]["python-version"]
    assert version == "${{ env.PYTHON_VERSION }}" and workflow()["env"]["PYTHON_VERSION"] == "3.11"


def test_preview_runs_on_pull_requests_for_every_stack_with_the_policy_pack() -> None:
    preview = job("preview")
    assert preview["if"] == "github.event_name == 'pull_request'"
    assert preview["permissions"]["id-token"] == "write"
    assert preview["permissions"]["pull-requests"] == "write"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    assert sorted(preview["strategy"]["matrix"]["stack"]) == STACKS
    (aws,) = uses("preview", "aws-actions/configure-aws-credentials")
    assert "matrix.stack" in aws["with"]["role-to-assume"]
    (pulumi,) = uses("preview", "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["work-dir"] == "infra"
    assert pulumi["with"]["stack-name"].endswith("/${{ matrix.stack }}")
    assert pulumi["with"]["policyPacks"].endswith("/infra/policy")
    assert f"{PROJECT}:imageTag" in pulumi["with"]["config-map"]
    steps = preview["steps"]
    assert steps.index(aws) < steps.index(pulumi), "credentials before the preview"


def test_deploy_runs_pulumi_up_on_main_after_the_tests_with_oidc_credentials() -> None:
    deploy = job("deploy")
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert deploy["needs"] == "test"
    assert deploy["permissions"]["id-token"] == "write"
    assert deploy["environment"] == "${{ matrix.stack }}"
    assert deploy["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    assert deploy["strategy"]["max-parallel"] == 1, "one environment at a time, in order"
    (aws,) = uses("deploy", "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    script = runs("deploy")
    ups = [line for line in script.splitlines() if line.strip().startswith("pulumi up")]
    assert len(ups) == 2 and all("--policy-pack policy" in u and "imageTag=$IMAGE_TAG" in u for u in ups)
    assert ups[-1].split() == [
        "pulumi", "up", "--yes", "--policy-pack", "policy", "-c", f'"{PROJECT}:imageTag=$IMAGE_TAG"',
        "--message", '"deploy', '${{', "github.sha", '}}"',
    ]  # fmt: skip
    steps = deploy["steps"]
    assert steps.index(aws) < min(i for i, s in enumerate(steps) if "pulumi up" in s.get("run", ""))


def test_no_static_aws_keys_anywhere() -> None:
    text = WORKFLOW.read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_the_first_targeted_up_names_the_programs_ecr_repositories() -> None:
    script = runs("deploy")
    template = re.search(r'--target "(urn:pulumi:[^"]+)"', script)
    assert template, "the deploy creates the image repositories before pushing"
    urns = set()
    for package in sorted(p.parent.name for p in (REPO / "services").glob("*/pyproject.toml")):
        name = package.replace("_", "-")
        urns.add(template[1].replace("${{ matrix.stack }}", "prod").replace("$name", name))
    graph = built("prod")
    ecr = {
        f"urn:pulumi:prod::{PROJECT}::{r.type}::{r.name}"
        for r in graph.of_type("aws:ecr/repository:Repository")
    }
    assert urns == ecr


def test_every_run_script_is_valid_bash() -> None:
    for name in ("test", "preview", "deploy"):
        for step in job(name)["steps"]:
            if "run" in step:
                script = re.sub(r"\$\{\{[^}]*\}\}", "x", step["run"])
                done = subprocess.run(
                    ["bash", "-n"], input=script, text=True, capture_output=True, check=False
                )
                assert done.returncode == 0, (name, step.get("name"), done.stderr)
