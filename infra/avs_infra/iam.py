"""IAM roles and inline policies built from :mod:`avs_infra.access` grants.

ARNs come from the resources themselves (their ``arn`` outputs) as they are created;
patterns (GSIs, object prefixes, executions, schedules of a group) are derived from
those ARNs, so a policy can only name what this program created.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from avs_infra.access import UNSCOPED_ACTIONS, Grant, Ref


def _pattern(arn: pulumi.Input[str], fn: Any) -> pulumi.Output[str]:
    return pulumi.Output.from_input(arn).apply(fn)


@dataclass
class ArnRegistry:
    """The ARN of every resource a grant may name, filled in as resources are created."""

    region: str
    partition: str = "aws"
    bedrock_model_id: str = ""
    tables: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    queues: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    topics: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    state_machines: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    schedule_groups: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    secrets: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    roles: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    bucket: pulumi.Output[str] | None = None

    def _get(self, kind: str, table: Mapping[str, pulumi.Output[str]], name: str) -> pulumi.Output[str]:
        if name not in table:
            raise KeyError(f"a grant names {kind} {name!r}, which this program has not created (yet)")
        return table[name]

    def _bucket(self) -> pulumi.Output[str]:
        if self.bucket is None:
            raise KeyError("a grant names the bucket before it is created")
        return self.bucket

    def resolve(self, ref: Ref) -> pulumi.Input[str]:
        k = ref.kind
        if k == "any":
            return "*"
        if k == "table":
            return self._get("table", self.tables, ref.name)
        if k == "index":
            return _pattern(self._get("table", self.tables, ref.name), lambda a: f"{a}/index/*")
        if k == "queue":
            return self._get("queue", self.queues, ref.name)
        if k == "topic":
            return self._get("topic", self.topics, ref.name)
        if k == "bucket":
            return self._bucket()
        if k == "objects":
            return _pattern(self._bucket(), lambda a, p=ref.name: f"{a}/{p}*")
        if k == "object":
            return _pattern(self._bucket(), lambda a, key=ref.name: f"{a}/{key}")
        if k == "state-machine":
            return self._get("state machine", self.state_machines, ref.name)
        if k == "executions":
            machine = self._get("state machine", self.state_machines, ref.name)
            return _pattern(machine, lambda a: a.replace(":stateMachine:", ":execution:") + ":*")
        if k == "schedules":
            group = self._get("schedule group", self.schedule_groups, ref.name)
            return _pattern(group, lambda a: a.replace(":schedule-group/", ":schedule/") + "/*")
        if k == "secret":
            return self._get("secret", self.secrets, ref.name)
        if k == "role":
            return self._get("role", self.roles, ref.name)
        if k == "model":
            if not self.bedrock_model_id:
                raise KeyError("a grant names the Bedrock model but none is configured")
            return f"arn:{self.partition}:bedrock:{self.region}::foundation-model/{self.bedrock_model_id}"
        raise KeyError(f"unknown resource kind {k!r}")


def statement(grant: Grant, arns: ArnRegistry) -> dict[str, Any]:
    """One ``Allow`` statement; ``*`` only for actions AWS cannot scope."""
    if any("*" in a for a in grant.actions):
        raise ValueError(f"grant {grant.sid}: wildcard actions are not allowed ({grant.actions})")
    resources = [arns.resolve(r) for r in grant.resources]
    if "*" in resources:
        scoped = sorted(set(grant.actions) - UNSCOPED_ACTIONS)
        if scoped or len(resources) != 1:
            raise ValueError(f"grant {grant.sid}: {scoped} on '*' (scope them to resources)")
    out: dict[str, Any] = {
        "Sid": grant.sid,
        "Effect": "Allow",
        "Action": list(grant.actions),
        "Resource": resources,
    }
    if grant.condition:
        out["Condition"] = {k: dict(v) for k, v in grant.condition.items()}
    return out


def policy_document(grants: Sequence[Grant], arns: ArnRegistry) -> pulumi.Output[str]:
    sids = [g.sid for g in grants]
    duplicates = sorted({s for s in sids if sids.count(s) > 1})
    if duplicates:
        raise ValueError(f"duplicate statement ids {duplicates}")
    doc = {"Version": "2012-10-17", "Statement": [statement(g, arns) for g in grants]}
    return pulumi.Output.json_dumps(doc)


def assume_role_policy(principal: str, condition: Mapping[str, Any] | None = None) -> pulumi.Output[str]:
    stmt: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": principal},
        "Action": "sts:AssumeRole",
    }
    if condition:
        stmt["Condition"] = condition
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [stmt]})


def role(
    logical: str,
    principal: str,
    *,
    service: str,
    description: str,
    condition: Mapping[str, Any] | None = None,
    name: str | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> aws.iam.Role:
    """A role ``principal`` may assume; ``name``: a fixed name others refer to (else generated)."""
    return aws.iam.Role(
        logical,
        name=name,
        assume_role_policy=assume_role_policy(principal, condition),
        description=description,
        max_session_duration=3600,
        tags={"service": service},
        opts=opts,
    )


def inline_policy(
    logical: str,
    target: aws.iam.Role,
    document: pulumi.Input[str],
    opts: pulumi.ResourceOptions | None = None,
) -> aws.iam.RolePolicy:
    return aws.iam.RolePolicy(logical, role=target.id, policy=document, opts=opts)


def static_document(statements: Sequence[Mapping[str, Any]]) -> str:
    """A policy document without outputs (e.g. a bucket policy built from known strings)."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
