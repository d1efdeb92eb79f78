"""Secrets Manager: the Qdrant Cloud URL and key, and the API's hashed key records.

Values never live in this repository. The Qdrant secret gets a first version from the
stack config when ``qdrantUrl`` (and the secret ``qdrantApiKey``) are set; otherwise an
operator puts it (docs/operations.md, "Rotating keys"). The API keys secret starts as
``[]`` (no keys: review and operator endpoints refuse everyone) and is then managed by
operators; later deploys never overwrite either (``ignore_changes``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from avs_infra.config import StackConfig
from avs_infra.iam import ArnRegistry

QDRANT = "qdrant"
API_KEYS = "api-keys"
QDRANT_URL_KEY = "url"
QDRANT_API_KEY_KEY = "api_key"


@dataclass(frozen=True)
class Secrets:
    qdrant: aws.secretsmanager.Secret
    api_keys: aws.secretsmanager.Secret


def secret_name(environment: str, which: str) -> str:
    return f"avs/{environment}/{which}"


def build_secrets(cfg: StackConfig, arns: ArnRegistry) -> Secrets:
    keep = pulumi.ResourceOptions(ignore_changes=["secret_string"])
    qdrant = aws.secretsmanager.Secret(
        "secret-qdrant",
        name=secret_name(cfg.environment, QDRANT),
        description=f'Qdrant Cloud: {{"{QDRANT_URL_KEY}": ..., "{QDRANT_API_KEY_KEY}": ...}}',
        recovery_window_in_days=7,
        tags={"service": "indexer"},
    )
    if cfg.qdrant_url:
        key = pulumi.Config().require_secret("qdrantApiKey")
        aws.secretsmanager.SecretVersion(
            "secret-qdrant-initial",
            secret_id=qdrant.id,
            secret_string=pulumi.Output.json_dumps({QDRANT_URL_KEY: cfg.qdrant_url, QDRANT_API_KEY_KEY: key}),
            opts=keep,
        )
    api_keys = aws.secretsmanager.Secret(
        "secret-api-keys",
        name=secret_name(cfg.environment, API_KEYS),
        description='API keys as hashed records: [{"name", "role", "sha256"}] (see avs_api.auth)',
        recovery_window_in_days=7,
        tags={"service": "api"},
    )
    aws.secretsmanager.SecretVersion(
        "secret-api-keys-initial", secret_id=api_keys.id, secret_string="[]", opts=keep
    )
    arns.secrets[QDRANT] = qdrant.arn
    arns.secrets[API_KEYS] = api_keys.arn
    return Secrets(qdrant=qdrant, api_keys=api_keys)
