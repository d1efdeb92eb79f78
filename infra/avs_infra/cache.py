"""ElastiCache Redis in the private subnets; only the services' security group reaches it.

Encrypted at rest and in transit (clients use ``rediss://``). Replicas (and with them
automatic failover across zones) come from ``redisReplicas``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from avs_infra.config import StackConfig
from avs_infra.network import REDIS_PORT, Network


@dataclass(frozen=True)
class Cache:
    group: aws.elasticache.ReplicationGroup

    @property
    def url(self) -> pulumi.Output[str]:
        """``AVS_REDIS_URL`` of the services."""
        return self.group.primary_endpoint_address.apply(lambda host: f"rediss://{host}:{REDIS_PORT}/0")


def build_cache(cfg: StackConfig, network: Network) -> Cache:
    subnets = aws.elasticache.SubnetGroup(
        "redis-subnets",
        description="private subnets",
        subnet_ids=network.private_subnet_ids,
        tags={},
    )
    replicas = cfg.redis_replicas
    group = aws.elasticache.ReplicationGroup(
        "redis",
        description=f"avs {cfg.environment}: entry, response, proxy and HTTP caches; rate limits",
        engine="redis",
        engine_version="7.1",
        node_type=cfg.redis_node_type,
        num_cache_clusters=1 + replicas,
        automatic_failover_enabled=replicas > 0,
        multi_az_enabled=replicas > 0,
        port=REDIS_PORT,
        subnet_group_name=subnets.name,
        security_group_ids=[network.redis_sg.id],
        at_rest_encryption_enabled=True,
        transit_encryption_enabled=True,
        snapshot_retention_limit=1 if cfg.environment == "prod" else 0,
        apply_immediately=cfg.environment != "prod",
        tags={},
    )
    return Cache(group=group)
