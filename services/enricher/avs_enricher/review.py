"""Starting a review: the staged entry, the processing lock, the ``enrichment-review`` execution.

The contract (the state machine in ``infra/statemachines/enrichment-review.asl.json``
and the review side in ``avs_api.review`` read it):

Execution name
    ``new-<anime_id>-<h>`` or ``ep<n>-<anime_id>-<h>``, ``h`` = the first 16 hex digits
    of SHA-256 over the triggering event's ``event_id``: a redelivered message names the
    same execution, and ``ExecutionAlreadyExists`` counts as started.
Staged entry
    ``staging/enriched/<anime_id>/<execution name>.json``: the assembled ``AnimeEntry``
    JSON, written once (a rerun never changes what a reviewer may be looking at).
Execution input
    ``anime_id``, ``entry_ref`` (the staged key), ``kind`` (a ``ReviewKind`` value),
    ``reason``, ``base_version`` (0 for a new anime, else the live version the change was
    built on), ``lock_owner`` (the execution name), ``review_queue_url``,
    ``approved_topic_arn``, ``correlation_id``, ``trace`` (``traceparent``/``tracestate``
    of the enricher's span), ``timeout_seconds``, ``heartbeat_seconds`` and ``details``
    (``offline_only``, ``providers``: name → status, ``title``, ``episode_number``,
    ``source_event_id``).
Lock
    A new anime's review holds ``anime-processing-locks`` for its whole duration:
    ``owner`` and ``review_execution`` = the execution name, ``ttl`` = the review timeout
    plus a day. The state machine deletes it on reject, timeout or failure only while its
    owner is still ``lock_owner``; the indexer deletes it after committing an approval.
    A lock that another review holds (another ``review_execution``) is never taken: that
    anime is already under review.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import structlog
from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.errors import ConfigurationError
from avs_shared.ports.storage import ObjectStore
from avs_shared.schema import AnimeEntry
from avs_shared.topology import (
    Q_REVIEW_REQUESTS,
    SM_ENRICHMENT_REVIEW,
    STAGING_PREFIX,
    T_LOCKS,
    TOPIC_ENTRY_APPROVED,
)

log = structlog.get_logger(__name__)

STAGED_PREFIX = f"{STAGING_PREFIX}enriched/"
CLAIM_TTL_S = 3600  # while the enricher works; extended to the review's length once it starts
REVIEW_LOCK_MARGIN_S = 24 * 3600


def execution_name(prefix: str, anime_id: str, source_event_id: str) -> str:
    """``<prefix>-<anime_id>-<16 hex of sha256(event_id)>`` (at most 80 characters, SFN's limit)."""
    digest = hashlib.sha256(source_event_id.encode()).hexdigest()[:16]
    name = f"{prefix}-{anime_id}-{digest}"
    if len(name) > 80 or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"cannot name an execution {name!r}: anime_id must be a UUID-like id")
    return name


def staging_key(anime_id: str, name: str) -> str:
    return f"{STAGED_PREFIX}{anime_id}/{name}.json"


@dataclass(frozen=True)
class ReviewTargets:
    state_machine_arn: str
    review_queue_url: str
    approved_topic_arn: str


class ReviewStarter:
    """Stages entries, holds locks and starts ``enrichment-review`` executions."""

    def __init__(self, aws: AwsClients, objects: ObjectStore, *, timeout_s: int, heartbeat_s: int) -> None:
        self._aws = aws
        self._objects = objects
        self.timeout_s = timeout_s
        self.heartbeat_s = heartbeat_s
        self._targets: ReviewTargets | None = None
        self._lock = asyncio.Lock()

    async def targets(self) -> ReviewTargets:
        """The state machine, queue and topic the execution uses, looked up once."""
        if self._targets is None:
            async with self._lock:
                if self._targets is None:
                    self._targets = ReviewTargets(
                        await self._state_machine_arn(), await self._queue_url(), await self._topic_arn()
                    )
        return self._targets

    async def claim_lock(self, anime_id: str, owner: str, *, ttl_s: int = CLAIM_TTL_S) -> str | None:
        """Hold the anime's lock for review ``owner``; None on success, else the review holding it."""
        ddb = await self._aws.client("dynamodb")
        now = int(time.time())
        try:
            await ddb.update_item(
                TableName=T_LOCKS,
                Key={"anime_id": {"S": anime_id}},
                UpdateExpression=(
                    "SET #owner = :name, review_execution = :name, #ttl = :ttl, "
                    "acquired_at = if_not_exists(acquired_at, :now)"
                ),
                ConditionExpression=(
                    "attribute_not_exists(anime_id) OR #ttl < :now "
                    "OR attribute_not_exists(review_execution) OR review_execution = :name"
                ),
                ExpressionAttributeNames={"#owner": "owner", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":name": {"S": owner},
                    ":ttl": {"N": str(now + ttl_s)},
                    ":now": {"N": str(now)},
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            item = (
                await ddb.get_item(TableName=T_LOCKS, Key={"anime_id": {"S": anime_id}}, ConsistentRead=True)
            ).get("Item", {})
            return str(item.get("review_execution", {}).get("S", "another review"))
        return None

    async def release_claim(self, anime_id: str, owner: str) -> None:
        """Give the lock back after a failure no retry can fix (only while ``owner`` holds it)."""
        ddb = await self._aws.client("dynamodb")
        try:
            await ddb.delete_item(
                TableName=T_LOCKS,
                Key={"anime_id": {"S": anime_id}},
                ConditionExpression="review_execution = :name",
                ExpressionAttributeValues={":name": {"S": owner}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    async def stage(self, key: str, entry: AnimeEntry) -> bool:
        """Write the entry at ``key`` unless it is there already; True if written now."""
        if await self._objects.head(key) is not None:
            return False
        await self._objects.put(key, entry.to_json().encode(), content_type="application/json")
        return True

    async def start(self, name: str, request: dict[str, Any]) -> tuple[str, bool]:
        """Start the execution; ``(execution ARN, started now)``. A same-named one counts as started."""
        targets = await self.targets()
        sfn = await self._aws.client("stepfunctions")
        body = json.dumps(request, separators=(",", ":"), ensure_ascii=False)
        try:
            resp = await sfn.start_execution(stateMachineArn=targets.state_machine_arn, name=name, input=body)
        except ClientError as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise
            arn = targets.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
            log.info("review already started", execution=name)
            return arn, False
        return str(resp["executionArn"]), True

    async def extend_lock(self, anime_id: str, owner: str) -> None:
        """Keep the lock for the review's whole length (plus a day), while ``owner`` holds it."""
        ddb = await self._aws.client("dynamodb")
        until = int(time.time()) + self.timeout_s + REVIEW_LOCK_MARGIN_S
        try:
            await ddb.update_item(
                TableName=T_LOCKS,
                Key={"anime_id": {"S": anime_id}},
                UpdateExpression="SET #ttl = :ttl",
                ConditionExpression="review_execution = :name",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":name": {"S": owner}, ":ttl": {"N": str(until)}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            log.warning("review lock lost before the review started", anime_id=anime_id, owner=owner)

    async def _state_machine_arn(self) -> str:
        sfn = await self._aws.client("stepfunctions")
        async for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page.get("stateMachines", []):
                if machine["name"] == SM_ENRICHMENT_REVIEW:
                    return str(machine["stateMachineArn"])
        raise ConfigurationError(
            f"state machine {SM_ENRICHMENT_REVIEW!r} does not exist at the configured endpoint; "
            "provision the topology first (`avs local up` or the Pulumi stack)"
        )

    async def _queue_url(self) -> str:
        sqs = await self._aws.client("sqs")
        try:
            return str((await sqs.get_queue_url(QueueName=Q_REVIEW_REQUESTS))["QueueUrl"])
        except ClientError as exc:
            raise ConfigurationError(
                f"queue {Q_REVIEW_REQUESTS!r} does not exist; provision the topology first"
            ) from exc

    async def _topic_arn(self) -> str:
        sns = await self._aws.client("sns")
        async for page in sns.get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                arn = str(topic["TopicArn"])
                if arn.rsplit(":", 1)[-1] == TOPIC_ENTRY_APPROVED:
                    return arn
        raise ConfigurationError(
            f"SNS topic {TOPIC_ENTRY_APPROVED!r} does not exist; provision the topology first"
        )
