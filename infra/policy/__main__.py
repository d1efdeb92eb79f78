"""The policy pack (``pulumi preview --policy-pack infra/policy`` runs this file)."""

from avs_policy import REQUIRED_TAGS_POLICY
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name="avs-tags", enforcement_level=EnforcementLevel.MANDATORY, policies=[REQUIRED_TAGS_POLICY])
