"""The data bucket and the CDN in front of its ``images/``.

The bucket: private (public access blocked, owner-enforced), versioned, encrypted
(SSE-S3: CloudFront's origin access control reads it without a KMS grant), TLS only,
with the catalogue's lifecycle rules (``staging/`` expires) plus cleanup of old
versions and abandoned multipart uploads.

CloudFront: the bucket through an origin access control (SigV4); HTTPS only (HTTP
redirects to HTTPS); the bucket policy lets the distribution read ``images/*`` and
nothing else, so any other path answers 403.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from avs_infra.config import StackConfig
from avs_shared.topology import IMAGES_PREFIX, TOPOLOGY

# AWS managed cache policy "CachingOptimized" (images are content-addressed: never change).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
IMAGES_ORIGIN = "images-s3"
NONCURRENT_DAYS = 30
ABORT_MULTIPART_DAYS = 7


@dataclass(frozen=True)
class Storage:
    bucket: aws.s3.Bucket
    distribution: aws.cloudfront.Distribution

    @property
    def cdn_domain(self) -> pulumi.Output[str]:
        return self.distribution.domain_name


def _lifecycle_rules() -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    L = aws.s3
    rules = [
        L.BucketLifecycleConfigurationRuleArgs(
            id=rule.id,
            status="Enabled",
            filter=L.BucketLifecycleConfigurationRuleFilterArgs(prefix=rule.prefix),
            expiration=L.BucketLifecycleConfigurationRuleExpirationArgs(days=rule.expire_days),
            # Versioning keeps an expired object as a noncurrent version: drop it too.
            noncurrent_version_expiration=L.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=1
            ),
        )
        for rule in TOPOLOGY.bucket.lifecycle
    ]
    rules.append(
        L.BucketLifecycleConfigurationRuleArgs(
            id="noncurrent-versions-and-uploads",
            status="Enabled",
            filter=L.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            noncurrent_version_expiration=L.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=NONCURRENT_DAYS
            ),
            abort_incomplete_multipart_upload=L.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=ABORT_MULTIPART_DAYS
            ),
        )
    )
    return rules


def _bucket_policy(bucket_arn: str, distribution_arn: str) -> str:
    """CloudFront (this distribution only) reads ``images/``; nobody talks to the bucket without TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudFrontReadsImages",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/{IMAGES_PREFIX}*",
                    "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
                },
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def build_storage(cfg: StackConfig) -> Storage:
    spec = TOPOLOGY.bucket
    protect = pulumi.ResourceOptions(protect=cfg.protect)
    bucket = aws.s3.Bucket("data", bucket=spec.name, force_destroy=False, tags={}, opts=protect)
    aws.s3.BucketOwnershipControls(
        "data-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
    )
    aws.s3.BucketPublicAccessBlock(
        "data-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketVersioning(
        "data-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
            status="Enabled" if spec.versioned else "Suspended"
        ),
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        "data-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                ),
                bucket_key_enabled=True,
            )
        ],
    )
    aws.s3.BucketLifecycleConfiguration("data-lifecycle", bucket=bucket.id, rules=_lifecycle_rules())

    oac = aws.cloudfront.OriginAccessControl(
        "images-oac",
        name=f"avs-{cfg.environment}-images",
        description="CloudFront reads images/ of the bucket",
        origin_access_control_origin_type="s3",
        signing_behavior="always",
        signing_protocol="sigv4",
    )
    behaviour: dict[str, Any] = dict(
        target_origin_id=IMAGES_ORIGIN,
        viewer_protocol_policy="redirect-to-https",
        allowed_methods=["GET", "HEAD"],
        cached_methods=["GET", "HEAD"],
        cache_policy_id=CACHING_OPTIMIZED,
        compress=True,
    )
    if cfg.cdn_certificate_arn:
        certificate = aws.cloudfront.DistributionViewerCertificateArgs(
            acm_certificate_arn=cfg.cdn_certificate_arn,
            ssl_support_method="sni-only",
            minimum_protocol_version="TLSv1.2_2021",
        )
    else:
        certificate = aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)
    distribution = aws.cloudfront.Distribution(
        "images-cdn",
        enabled=True,
        comment=f"avs {cfg.environment}: {IMAGES_PREFIX} of {spec.name}",
        aliases=list(cfg.cdn_aliases) or None,
        is_ipv6_enabled=True,
        http_version="http2and3",
        price_class=cfg.cdn_price_class,
        origins=[
            aws.cloudfront.DistributionOriginArgs(
                origin_id=IMAGES_ORIGIN,
                domain_name=bucket.bucket_regional_domain_name,
                origin_access_control_id=oac.id,
            )
        ],
        default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(**behaviour),
        ordered_cache_behaviors=[
            aws.cloudfront.DistributionOrderedCacheBehaviorArgs(path_pattern=f"{IMAGES_PREFIX}*", **behaviour)
        ],
        restrictions=aws.cloudfront.DistributionRestrictionsArgs(
            geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
        ),
        viewer_certificate=certificate,
        tags={"service": "image-ingestor"},
    )
    policy = pulumi.Output.all(bucket.arn, distribution.arn).apply(lambda a: _bucket_policy(a[0], a[1]))
    aws.s3.BucketPolicy("data-policy", bucket=bucket.id, policy=policy)
    return Storage(bucket=bucket, distribution=distribution)
