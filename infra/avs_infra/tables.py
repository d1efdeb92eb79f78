"""The DynamoDB tables of the catalogue: on demand, point-in-time recovery, encrypted,
TTL where the catalogue names an attribute, GSIs projecting everything."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from avs_infra.config import StackConfig
from avs_shared.topology import TOPOLOGY, Gsi, Table


def _key_schema(gsi: Gsi) -> list[aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs]:
    keys = [aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=gsi.hash_key, key_type="HASH")]
    if gsi.range_key:
        keys.append(
            aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                attribute_name=gsi.range_key, key_type="RANGE"
            )
        )
    return keys


def _table(spec: Table, cfg: StackConfig) -> aws.dynamodb.Table:
    D = aws.dynamodb
    return D.Table(
        f"table-{spec.name}",
        name=spec.name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=spec.hash_key,
        range_key=spec.range_key,
        attributes=[D.TableAttributeArgs(name=n, type=t) for n, t in spec.attributes.items()],
        global_secondary_indexes=[
            D.TableGlobalSecondaryIndexArgs(name=g.name, key_schemas=_key_schema(g), projection_type="ALL")
            for g in spec.gsis
        ]
        or None,
        ttl=D.TableTtlArgs(attribute_name=spec.ttl_attribute, enabled=True) if spec.ttl_attribute else None,
        point_in_time_recovery=D.TablePointInTimeRecoveryArgs(enabled=True),
        server_side_encryption=D.TableServerSideEncryptionArgs(enabled=True),
        deletion_protection_enabled=cfg.protect,
        tags={},
        opts=pulumi.ResourceOptions(protect=cfg.protect),
    )


def build_tables(cfg: StackConfig) -> dict[str, aws.dynamodb.Table]:
    """Catalogue name -> table."""
    return {spec.name: _table(spec, cfg) for spec in TOPOLOGY.tables}
