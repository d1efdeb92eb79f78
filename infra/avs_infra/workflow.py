"""The ``enrichment-review`` Step Functions workflow, from the same ASL file moto runs locally."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from avs_infra import iam
from avs_infra.access import state_machine_grants
from avs_infra.config import StackConfig
from avs_shared.topology import TOPOLOGY, StateMachine

INFRA_DIR = Path(__file__).resolve().parents[1]


def definition_of(machine: StateMachine) -> str:
    """The ASL text of ``machine`` (checked to be JSON with states; sent unchanged)."""
    path = INFRA_DIR / machine.definition
    text: str = path.read_text()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict) or "StartAt" not in parsed or "States" not in parsed:
        raise ValueError(f"{path} is not an ASL definition (StartAt and States are required)")
    return text


def build_state_machines(cfg: StackConfig, arns: iam.ArnRegistry) -> dict[str, aws.sfn.StateMachine]:
    machines: dict[str, aws.sfn.StateMachine] = {}
    for machine in TOPOLOGY.state_machines:
        role = iam.role(
            f"states-{machine.name}",
            "states.amazonaws.com",
            service="enricher",
            description=f"executions of {machine.name}",
        )
        policy = iam.inline_policy(
            f"states-{machine.name}", role, iam.policy_document(state_machine_grants(), arns)
        )
        logs = aws.cloudwatch.LogGroup(
            f"states-{machine.name}-logs",
            name=f"/aws/vendedlogs/states/{machine.name}",
            retention_in_days=cfg.log_retention_days,
            tags={"service": "enricher"},
        )
        machines[machine.name] = aws.sfn.StateMachine(
            f"states-{machine.name}",
            name=machine.name,
            type="STANDARD",
            definition=definition_of(machine),
            role_arn=role.arn,
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                log_destination=logs.arn.apply(lambda a: f"{a}:*"),
                include_execution_data=False,
                level="ERROR",
            ),
            tags={"service": "enricher"},
            opts=pulumi.ResourceOptions(depends_on=[policy]),
        )
        arns.state_machines[machine.name] = machines[machine.name].arn
    return machines
