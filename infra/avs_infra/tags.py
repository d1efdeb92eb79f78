"""The three cost tags on every taggable resource: ``project``, ``environment``, ``service``.

A stack transformation (run in-process by the Pulumi SDK, so it also applies under
unit-test mocks) merges them into the ``tags`` input of every resource that has one.
A resource names its service with ``tags={"service": ...}``; shared infrastructure
(network, bucket, tables, messaging) defaults to :data:`PLATFORM`. ``project`` and
``environment`` cannot be overridden. The policy pack in ``infra/policy`` rejects any
taggable resource that still lacks one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from avs_infra.config import PROJECT

REQUIRED_TAGS = ("project", "environment", "service")
PLATFORM = "platform"


def merged_tags(given: Mapping[str, Any] | None, environment: str) -> dict[str, Any]:
    """``given`` plus the project and environment; ``service`` defaults to :data:`PLATFORM`."""
    given = dict(given or {})
    for fixed, value in (("project", PROJECT), ("environment", environment)):
        if fixed in given and given[fixed] != value:
            raise ValueError(f"tag {fixed}={given[fixed]!r} contradicts the stack's {value!r}")
    return {"service": PLATFORM, **given, "project": PROJECT, "environment": environment}


def register_default_tags(environment: str) -> None:
    """Add the tags to every resource created after this call (call it first)."""

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        props = args.props
        if "tags" not in props:  # the resource type has no tags
            return None
        tags = props.get("tags")
        if isinstance(tags, pulumi.Output):
            new: Any = tags.apply(lambda t: merged_tags(t, environment))
        else:
            if tags is not None and not isinstance(tags, Mapping):
                raise TypeError(
                    f"{args.type_} {args.name}: tags must be a mapping, got {type(tags).__name__}"
                )
            new = merged_tags(tags, environment)
        return pulumi.ResourceTransformationResult(props={**props, "tags": new}, opts=args.opts)

    pulumi.runtime.register_stack_transformation(transform)
