"""A throwaway DynamoDB table for the moto server tests (created once, reused after)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients


async def ensure_table(aws: AwsClients, name: str) -> None:
    """A pay-per-request table keyed by the string ``k``; an existing one is kept."""
    ddb = await aws.client("dynamodb")
    try:
        await ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
