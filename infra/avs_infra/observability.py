"""The SigNoz host: an EC2 instance in a private subnet running SigNoz's own Docker
Compose deployment (cloud-init), its data on a separate encrypted EBS volume, reached at
``signoz.<private zone>``.

OTLP (4317 gRPC, 4318 HTTP) is open to the services' security group only; the UI on
3301 to ``signozUiCidr`` only. No SSH: operators use SSM Session Manager.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from avs_infra import iam
from avs_infra.config import StackConfig
from avs_infra.network import OTLP_PORTS, SIGNOZ_UI_PORT, Network

SIGNOZ_HOST = "signoz"
SIGNOZ_CONTAINER_UI_PORT = 8080  # SigNoz serves its UI on 8080 since v0.76; published as 3301
DATA_DEVICE = "/dev/sdf"
COMPOSE_VERSION = "v2.29.7"
SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


@dataclass(frozen=True)
class Observability:
    instance: aws.ec2.Instance
    zone: aws.route53.Zone
    record: aws.route53.Record
    hostname: str

    @property
    def otlp_http_endpoint(self) -> str:
        """``OTEL_EXPORTER_OTLP_ENDPOINT`` of the services (OTLP over HTTP)."""
        return f"http://{self.hostname}:{OTLP_PORTS[1]}"


def user_data(version: str, volume_id: str) -> str:
    """The cloud-init script: Docker, the data volume as Docker's root, SigNoz ``version``."""
    device_id = volume_id.replace("-", "")
    return f"""#!/bin/bash
# SigNoz {version} with its own docker compose file; data on the EBS volume {volume_id}.
set -euo pipefail
dnf install -y docker git xfsprogs
mkdir -p /usr/local/lib/docker/cli-plugins
curl -fsSL -o /usr/local/lib/docker/cli-plugins/docker-compose \\
  https://github.com/docker/compose/releases/download/{COMPOSE_VERSION}/docker-compose-linux-x86_64
chmod +x /usr/local/lib/docker/cli-plugins/docker-compose

# The volume is attached after boot: wait for it (Nitro names it by its id).
DEV=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{device_id}
for _ in $(seq 1 120); do
  [ -b "$DEV" ] && break
  [ -b {DATA_DEVICE} ] && DEV={DATA_DEVICE} && break
  sleep 5
done
[ -b "$DEV" ] || {{ echo "data volume {volume_id} never appeared" >&2; exit 1; }}
blkid "$DEV" >/dev/null || mkfs.xfs "$DEV"
mkdir -p /data
UUID=$(blkid -s UUID -o value "$DEV")
grep -q "$UUID" /etc/fstab || echo "UUID=$UUID /data xfs defaults,nofail 0 2" >> /etc/fstab
mount -a
mkdir -p /data/docker /etc/docker
echo '{{"data-root": "/data/docker"}}' > /etc/docker/daemon.json
systemctl enable --now docker

[ -d /opt/signoz ] || git clone --depth 1 --branch {version} https://github.com/SigNoz/signoz.git /opt/signoz
cd /opt/signoz/deploy/docker
cat > docker-compose.override.yaml <<'EOF'
services:
  signoz:
    ports:
      - "{SIGNOZ_UI_PORT}:{SIGNOZ_CONTAINER_UI_PORT}"
EOF
docker compose up -d --remove-orphans
"""


def build_observability(cfg: StackConfig, network: Network) -> Observability:
    zone0 = cfg.availability_zones[0]
    role = iam.role(
        "signoz", "ec2.amazonaws.com", service="signoz", description="the SigNoz host (SSM access)"
    )
    aws.iam.RolePolicyAttachment("signoz-ssm", role=role.name, policy_arn=SSM_CORE)
    profile = aws.iam.InstanceProfile("signoz", role=role.name, tags={"service": "signoz"})
    ami = aws.ssm.get_parameter_output(name=cfg.signoz_ami_parameter).value
    volume = aws.ebs.Volume(
        "signoz-data",
        availability_zone=zone0,
        size=cfg.signoz_volume_gb,
        type="gp3",
        encrypted=True,
        tags={"service": "signoz", "Name": "avs-signoz-data"},
        opts=pulumi.ResourceOptions(protect=cfg.protect),
    )
    instance = aws.ec2.Instance(
        "signoz",
        ami=ami,
        instance_type=cfg.signoz_instance_type,
        subnet_id=network.private_subnets[0].id,
        vpc_security_group_ids=[network.signoz_sg.id],
        iam_instance_profile=profile.name,
        associate_public_ip_address=False,
        metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required", http_endpoint="enabled"),
        root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
            volume_size=30, volume_type="gp3", encrypted=True
        ),
        user_data=volume.id.apply(lambda vid: user_data(cfg.signoz_version, vid)),
        user_data_replace_on_change=True,
        tags={"service": "signoz", "Name": "avs-signoz"},
        volume_tags=None,
        opts=pulumi.ResourceOptions(ignore_changes=["ami"]),  # a newer AMI must not replace the host
    )
    aws.ec2.VolumeAttachment(
        "signoz-data", device_name=DATA_DEVICE, volume_id=volume.id, instance_id=instance.id
    )
    zone = aws.route53.Zone(
        "private-zone",
        name=cfg.private_zone_name,
        comment=f"avs {cfg.environment}: private names",
        vpcs=[aws.route53.ZoneVpcArgs(vpc_id=network.vpc.id)],
        tags={},
    )
    hostname = f"{SIGNOZ_HOST}.{cfg.private_zone_name}"
    record = aws.route53.Record(
        "signoz-dns", zone_id=zone.zone_id, name=hostname, type="A", ttl=60, records=[instance.private_ip]
    )
    return Observability(instance=instance, zone=zone, record=record, hostname=hostname)
