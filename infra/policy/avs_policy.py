"""The ``required-tags`` policy: a taggable resource without the tags ``project``,
``environment`` and ``service`` (each non-empty) is a mandatory violation.

Which resource types take tags is read from the provider's resource classes (an AWS
type token ``aws:<module>/<name>:<Class>`` names ``pulumi_aws.<module>.<Class>``; it
takes tags when its constructor has a ``tags`` argument). A type the provider package
does not know counts as taggable when it has a ``tags`` input.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from functools import cache
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

REQUIRED_TAGS = ("project", "environment", "service")


@cache
def resource_class(resource_type: str) -> type | None:
    """The ``pulumi_aws`` class of an AWS type token, or None."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "aws":
        return None
    module = parts[1].split("/")[0]
    try:
        found = importlib.import_module("pulumi_aws" if module == "index" else f"pulumi_aws.{module}")
    except ImportError:
        return None
    cls = getattr(found, parts[2], None)
    return cls if isinstance(cls, type) else None


@cache
def takes_tags(resource_type: str) -> bool | None:
    """Whether the provider's class for ``resource_type`` has a ``tags`` input (None: unknown type)."""
    cls = resource_class(resource_type)
    init = getattr(cls, "_internal_init", None) if cls else None
    if init is None:
        return None
    return "tags" in inspect.signature(init).parameters


def is_taggable(resource_type: str, props: Mapping[str, Any]) -> bool:
    known = takes_tags(resource_type)
    return known if known is not None else "tags" in props


def missing_tags(props: Mapping[str, Any]) -> list[str]:
    tags = props.get("tags") or {}
    if not isinstance(tags, Mapping):
        return list(REQUIRED_TAGS)
    return [t for t in REQUIRED_TAGS if not str(tags.get(t) or "").strip()]


def validate_required_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_taggable(args.resource_type, args.props):
        return
    missing = missing_tags(args.props)
    if missing:
        report_violation(
            f"{args.resource_type} '{args.name}' lacks the tags {missing}: every taggable resource carries "
            f"{list(REQUIRED_TAGS)} (infra/avs_infra/tags.py adds them to resources of the program)",
            None,
        )


REQUIRED_TAGS_POLICY = ResourceValidationPolicy(
    name="required-tags",
    description=f"Taggable resources carry the tags {', '.join(REQUIRED_TAGS)}.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_required_tags,
)
