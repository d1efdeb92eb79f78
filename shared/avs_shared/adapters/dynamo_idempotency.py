"""DynamoDB implementation of :class:`avs_shared.ports.storage.IdempotencyStore`.

One item per ``(handler, event_id)`` key in ``anime-handler-idempotency``:

==================  =======================================================
``status``          ``IN_PROGRESS`` while a handler runs, ``COMPLETED`` after
``lease_expires_at`` epoch seconds; an IN_PROGRESS claim past it may be taken over
``expires_at``      the table's TTL attribute (epoch seconds)
``claim_token``     random per claim, so only its holder releases or renews it
==================  =======================================================

A claim is one conditional ``PutItem``: it succeeds when the item is absent, when
its TTL has passed (DynamoDB deletes expired items lazily), or when it is an
IN_PROGRESS claim whose lease has expired (the holder crashed). Completion
overwrites it with COMPLETED; release deletes it, so the next delivery runs again.
"""

from __future__ import annotations

import time
import uuid

import structlog
from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.ports.storage import ClaimState
from avs_shared.topology import T_IDEMPOTENCY

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
_KEY = "idempotency_key"


def _n(value: float) -> dict[str, str]:
    return {"N": f"{value:.3f}" if isinstance(value, float) else str(value)}


class DynamoIdempotencyStore:
    """Handler claims in DynamoDB (also implements :class:`RenewableClaims`).

    Parameters
    ----------
    aws:
        The client factory.
    ttl_s:
        How long a record is kept (``expires_at`` = now + ``ttl_s``); keep it longer
        than the queues' message retention so a late duplicate still finds it.
    table:
        Table name; the catalogue's ``anime-handler-idempotency`` by default.
    """

    def __init__(self, aws: AwsClients, *, ttl_s: int = 7 * 24 * 3600, table: str = T_IDEMPOTENCY) -> None:
        self._aws = aws
        self._ttl_s = ttl_s
        self._table = table
        self._tokens: dict[str, str] = {}  # key -> claim token of the claims this process holds

    async def claim(self, key: str, *, lease_s: int) -> ClaimState:
        """Claim ``key`` for ``lease_s`` seconds; see :class:`ClaimState` for the answers."""
        ddb = await self._aws.client("dynamodb")
        now = time.time()
        token = uuid.uuid4().hex
        try:
            await ddb.put_item(
                TableName=self._table,
                Item={
                    _KEY: {"S": key},
                    "status": {"S": IN_PROGRESS},
                    "lease_expires_at": _n(now + max(lease_s, 1)),
                    "expires_at": _n(int(now) + self._ttl_s),
                    "claim_token": {"S": token},
                },
                ConditionExpression=(
                    "attribute_not_exists(#k) OR #exp < :now_s OR (#st = :in_progress AND #lease < :now)"
                ),
                ExpressionAttributeNames={
                    "#k": _KEY,
                    "#st": "status",
                    "#exp": "expires_at",
                    "#lease": "lease_expires_at",
                },
                ExpressionAttributeValues={
                    ":now": _n(now),
                    ":now_s": _n(int(now)),
                    ":in_progress": {"S": IN_PROGRESS},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            status = await self._status_after_conflict(key, exc)
            return ClaimState.ALREADY_DONE if status == COMPLETED else ClaimState.IN_PROGRESS_ELSEWHERE
        self._tokens[key] = token
        return ClaimState.CLAIMED

    async def complete(self, key: str) -> None:
        """Mark ``key`` COMPLETED (kept for ``ttl_s``)."""
        ddb = await self._aws.client("dynamodb")
        now = time.time()
        await ddb.put_item(
            TableName=self._table,
            Item={
                _KEY: {"S": key},
                "status": {"S": COMPLETED},
                "completed_at": _n(now),
                "expires_at": _n(int(now) + self._ttl_s),
            },
        )
        self._tokens.pop(key, None)

    async def release(self, key: str) -> None:
        """Delete this process's IN_PROGRESS claim on ``key`` so a redelivery runs again.

        Never deletes a COMPLETED record or a claim another process took over.
        """
        ddb = await self._aws.client("dynamodb")
        token = self._tokens.pop(key, None)
        if token is not None:
            condition = "#tok = :tok AND #st = :in_progress"
            names = {"#tok": "claim_token", "#st": "status"}
            values = {":tok": {"S": token}, ":in_progress": {"S": IN_PROGRESS}}
        else:
            condition = "#st = :in_progress"
            names = {"#st": "status"}
            values = {":in_progress": {"S": IN_PROGRESS}}
        try:
            await ddb.delete_item(
                TableName=self._table,
                Key={_KEY: {"S": key}},
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            log.warning("idempotency.release_skipped", key=key, reason="claim is no longer ours")

    async def renew(self, key: str, *, lease_s: int) -> None:
        """Push the lease of this process's claim on ``key`` to now + ``lease_s``."""
        token = self._tokens.get(key)
        if token is None:
            return
        ddb = await self._aws.client("dynamodb")
        try:
            await ddb.update_item(
                TableName=self._table,
                Key={_KEY: {"S": key}},
                UpdateExpression="SET #lease = :lease",
                ConditionExpression="#tok = :tok AND #st = :in_progress",
                ExpressionAttributeNames={
                    "#lease": "lease_expires_at",
                    "#tok": "claim_token",
                    "#st": "status",
                },
                ExpressionAttributeValues={
                    ":lease": _n(time.time() + max(lease_s, 1)),
                    ":tok": {"S": token},
                    ":in_progress": {"S": IN_PROGRESS},
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            log.warning("idempotency.renew_lost", key=key, reason="claim was taken over or completed")

    async def status(self, key: str) -> str | None:
        """The stored status of ``key`` (``IN_PROGRESS``, ``COMPLETED``) or None; for operators and tests."""
        ddb = await self._aws.client("dynamodb")
        resp = await ddb.get_item(TableName=self._table, Key={_KEY: {"S": key}}, ConsistentRead=True)
        item = resp.get("Item")
        return str(item["status"]["S"]) if item else None

    async def _status_after_conflict(self, key: str, exc: ClientError) -> str | None:
        item = exc.response.get("Item")  # present with ALL_OLD
        if isinstance(item, dict) and "status" in item:
            return str(item["status"]["S"])
        return await self.status(key)
