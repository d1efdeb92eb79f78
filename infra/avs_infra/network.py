"""The VPC: public subnets (NAT gateways), private subnets (tasks, Redis, SigNoz, the
internal NLB), gateway endpoints for S3 and DynamoDB, and the security groups.

Security groups, by who may talk to whom:

* ``services``: every task; no inbound; outbound anywhere (public anime APIs, Qdrant
  Cloud, AWS APIs). Redis and SigNoz admit this group only.
* ``api``: the API tasks in addition; inbound 8000 from the NLB only.
* ``nlb``: the internal NLB behind API Gateway's VPC link; inbound 80 from the VPC.
* ``redis``: 6379 from ``services``. ``signoz``: 4317/4318 from ``services``, 3301
  from the configured UI network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from avs_infra.config import StackConfig
from avs_infra.services import API_PORT

REDIS_PORT = 6379
OTLP_PORTS = (4317, 4318)
SIGNOZ_UI_PORT = 3301
NLB_PORT = 80


@dataclass(frozen=True)
class Network:
    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]
    services_sg: aws.ec2.SecurityGroup
    api_sg: aws.ec2.SecurityGroup
    nlb_sg: aws.ec2.SecurityGroup
    redis_sg: aws.ec2.SecurityGroup
    signoz_sg: aws.ec2.SecurityGroup

    @property
    def private_subnet_ids(self) -> list[pulumi.Output[str]]:
        return [s.id for s in self.private_subnets]


def _subnet_cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Public and private /20s (for a /16) carved from the VPC: public from the start,
    private from the middle, so either side can grow by zones without renumbering."""
    net = ipaddress.ip_network(vpc_cidr)
    blocks = list(net.subnets(new_prefix=min(net.prefixlen + 4, 28)))
    half = len(blocks) // 2
    if zones > half:
        raise ValueError(f"{vpc_cidr} is too small for {zones} zones")
    return [str(b) for b in blocks[:zones]], [str(b) for b in blocks[half : half + zones]]


def _sg(name: str, vpc: aws.ec2.Vpc, description: str) -> aws.ec2.SecurityGroup:
    return aws.ec2.SecurityGroup(name, vpc_id=vpc.id, description=description, tags={"Name": name})


def _ingress(
    name: str,
    sg: aws.ec2.SecurityGroup,
    port: int,
    *,
    source_sg: aws.ec2.SecurityGroup | None = None,
    cidr: pulumi.Input[str] | None = None,
    description: str,
) -> aws.vpc.SecurityGroupIngressRule:
    return aws.vpc.SecurityGroupIngressRule(
        name,
        security_group_id=sg.id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=source_sg.id if source_sg else None,
        cidr_ipv4=cidr,
        description=description,
    )


def _egress_all(name: str, sg: aws.ec2.SecurityGroup) -> aws.vpc.SecurityGroupEgressRule:
    return aws.vpc.SecurityGroupEgressRule(
        name, security_group_id=sg.id, ip_protocol="-1", cidr_ipv4="0.0.0.0/0", description="outbound"
    )


def build_network(cfg: StackConfig) -> Network:
    zones = cfg.availability_zones
    public_cidrs, private_cidrs = _subnet_cidrs(cfg.vpc_cidr, len(zones))
    vpc = aws.ec2.Vpc(
        "vpc",
        cidr_block=cfg.vpc_cidr,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        tags={"Name": "avs"},
    )
    igw = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, tags={"Name": "avs"})
    public_rt = aws.ec2.RouteTable("public-rt", vpc_id=vpc.id, tags={"Name": "avs-public"})
    aws.ec2.Route(
        "public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id
    )

    public: list[aws.ec2.Subnet] = []
    private: list[aws.ec2.Subnet] = []
    private_tables: list[aws.ec2.RouteTable] = []
    nats: list[aws.ec2.NatGateway] = []
    for i, zone in enumerate(zones):
        pub = aws.ec2.Subnet(
            f"public-{zone}",
            vpc_id=vpc.id,
            cidr_block=public_cidrs[i],
            availability_zone=zone,
            map_public_ip_on_launch=False,
            tags={"Name": f"avs-public-{zone}", "tier": "public"},
        )
        aws.ec2.RouteTableAssociation(f"public-{zone}", subnet_id=pub.id, route_table_id=public_rt.id)
        public.append(pub)
        if i < cfg.nat_gateways:
            eip = aws.ec2.Eip(f"nat-{zone}", domain="vpc", tags={"Name": f"avs-nat-{zone}"})
            nats.append(
                aws.ec2.NatGateway(
                    f"nat-{zone}",
                    allocation_id=eip.id,
                    subnet_id=pub.id,
                    tags={"Name": f"avs-nat-{zone}"},
                    opts=pulumi.ResourceOptions(depends_on=[igw]),
                )
            )
    for i, zone in enumerate(zones):
        priv = aws.ec2.Subnet(
            f"private-{zone}",
            vpc_id=vpc.id,
            cidr_block=private_cidrs[i],
            availability_zone=zone,
            tags={"Name": f"avs-private-{zone}", "tier": "private"},
        )
        rt = aws.ec2.RouteTable(f"private-rt-{zone}", vpc_id=vpc.id, tags={"Name": f"avs-private-{zone}"})
        nat = nats[i % len(nats)]  # zones beyond the NAT count share one (dev saves the cost)
        aws.ec2.Route(
            f"private-default-{zone}",
            route_table_id=rt.id,
            destination_cidr_block="0.0.0.0/0",
            nat_gateway_id=nat.id,
        )
        aws.ec2.RouteTableAssociation(f"private-{zone}", subnet_id=priv.id, route_table_id=rt.id)
        private.append(priv)
        private_tables.append(rt)

    region = pulumi.Config("aws").require("region")
    for svc in ("s3", "dynamodb"):  # free gateway endpoints: S3/DynamoDB traffic skips the NAT
        aws.ec2.VpcEndpoint(
            f"endpoint-{svc}",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{region}.{svc}",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_tables],
            tags={"Name": f"avs-{svc}"},
        )

    services_sg = _sg("services-sg", vpc, "every service task: outbound only")
    api_sg = _sg("api-sg", vpc, "API tasks: inbound from the internal NLB")
    nlb_sg = _sg("nlb-sg", vpc, "internal NLB behind the API Gateway VPC link")
    redis_sg = _sg("redis-sg", vpc, "ElastiCache Redis: the services only")
    signoz_sg = _sg("signoz-sg", vpc, "SigNoz: OTLP from the services, UI from the operators' network")
    _egress_all("services-egress", services_sg)
    _egress_all("signoz-egress", signoz_sg)  # pulls its images at boot
    _ingress("api-from-nlb", api_sg, API_PORT, source_sg=nlb_sg, description="API traffic and health checks")
    _ingress(
        "nlb-from-vpc", nlb_sg, NLB_PORT, cidr=cfg.vpc_cidr, description="API Gateway VPC link (PrivateLink)"
    )
    aws.vpc.SecurityGroupEgressRule(
        "nlb-to-api",
        security_group_id=nlb_sg.id,
        ip_protocol="tcp",
        from_port=API_PORT,
        to_port=API_PORT,
        referenced_security_group_id=api_sg.id,
        description="to the API tasks",
    )
    _ingress(
        "redis-from-services", redis_sg, REDIS_PORT, source_sg=services_sg, description="Redis from services"
    )
    for port in OTLP_PORTS:
        _ingress(
            f"signoz-otlp-{port}", signoz_sg, port, source_sg=services_sg, description="OTLP from services"
        )
    _ingress("signoz-ui", signoz_sg, SIGNOZ_UI_PORT, cidr=cfg.signoz_ui_cidr, description="SigNoz UI")
    return Network(vpc, public, private, services_sg, api_sg, nlb_sg, redis_sg, signoz_sg)
