"""What each service may do in AWS, stated once as data (least privilege).

Every grant names actions explicitly (no wildcards) on resources of the catalogue;
:mod:`avs_infra.iam` turns them into IAM policy documents. Rules this file keeps:

* nothing deletes an anime entry (``anime-enriched-data``): no ``DeleteItem`` and no
  ``BatchWriteItem`` (which can delete) for anyone but the indexer, whose store writes
  puts only; no service may create, update or delete a table, bucket, topic or queue;
* a service that owns only some fields of an entry may ``UpdateItem`` only those
  (``dynamodb:Attributes``): the image ingestor its image fields, the sync the
  orphaning fields;
* ``Resource: "*"`` only for the actions AWS does not scope to a resource
  (:data:`UNSCOPED_ACTIONS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from avs_infra.services import SERVICES, ServiceSpec
from avs_shared.adapters.dynamo_codec import HASH, OVERFLOW, STORE_OWNED
from avs_shared.events.claim_check import DEFAULT_PREFIX as CLAIMS_PREFIX
from avs_shared.topology import (
    ENTRIES_OVERFLOW_PREFIX,
    IMAGES_PREFIX,
    Q_IMAGE_FAILURES,
    Q_INDEXER_BULK_CHUNKS,
    Q_REVIEW_REQUESTS,
    SCHEDULE_GROUP_EPISODES,
    SM_ENRICHMENT_REVIEW,
    SNAPSHOT_KEY,
    STAGING_PREFIX,
    T_BULK_JOBS,
    T_ENRICHED,
    T_IDEMPOTENCY,
    T_IMAGE_DEDUP,
    T_LOCKS,
    T_REVIEW_TASKS,
    TOPIC_ANIME_NEW,
    TOPIC_ENTRY_APPROVED,
    TOPIC_IMAGE_REQUESTED,
    TOPOLOGY,
    UPDATED_ENTRIES_PREFIX,
)

SCHEDULER = "scheduler"  # the episode schedules' role, as the ArnRegistry knows it

RefKind = Literal[
    "table",
    "index",
    "queue",
    "topic",
    "objects",
    "object",
    "bucket",
    "state-machine",
    "executions",
    "secret",
    "schedules",
    "role",
    "model",
    "any",
]


@dataclass(frozen=True)
class Ref:
    """A resource a grant names: a catalogue name (table, queue, ...), an S3 key or key
    prefix, a secret or role of this program (``qdrant``, ``api-keys``, ``scheduler``),
    a Bedrock model id, or ``any`` (``*``)."""

    kind: RefKind
    name: str = ""


@dataclass(frozen=True)
class Grant:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[Ref, ...]
    condition: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


#: Actions IAM cannot scope to a resource; the only ones granted on ``*``.
UNSCOPED_ACTIONS = frozenset(
    {
        "sns:ListTopics",
        "states:ListStateMachines",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "ecr:GetAuthorizationToken",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)

# The entry store's own attributes, touched by every UpdateItem it makes.
_STORE_ATTRIBUTES = tuple(sorted({*STORE_OWNED, HASH, OVERFLOW}))
#: Top-level entry fields each partial writer owns (``images`` and ``characters[].images``
#: for the image ingestor; the orphaning fields for the sync).
OWNED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "image_ingestor": ("images", "characters"),
    "sync": ("system_status", "orphaned_at"),
}

_QUEUE_CONSUME = (
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
)
_QUEUE_SEND = ("sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage")
_TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable")
_TABLE_CRUD = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


# S3 answers a HEAD (or GET) of a missing key with 404 only to a caller that may list the
# bucket, 403 otherwise; the services ask "does this object exist yet?" (staged entries,
# bulk chunks, images, the snapshot). A prefix condition would not satisfy that check;
# listing reveals key names, not content.
_OBJECT_HEADS = Grant("ObjectHeads", ("s3:ListBucket",), (Ref("bucket"),))


def _table(sid: str, name: str, actions: tuple[str, ...], *, indexes: bool = False) -> Grant:
    refs = (Ref("table", name), Ref("index", name)) if indexes else (Ref("table", name),)
    return Grant(sid, actions, refs)


def _owned_update(sid: str, package: str) -> Grant:
    """``UpdateItem`` on the entries table limited to the fields ``package`` owns."""
    attributes = sorted({*OWNED_FIELDS[package], *_STORE_ATTRIBUTES})
    return Grant(
        sid,
        ("dynamodb:UpdateItem",),
        (Ref("table", T_ENRICHED),),
        {
            "ForAllValues:StringEquals": {"dynamodb:Attributes": attributes},
            "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"]},
        },
    )


def _worker(spec: ServiceSpec) -> list[Grant]:
    """What the worker runtime needs: its queues (and dead-lettering to their DLQs),
    idempotency records, the claim check and topic lookup."""
    grants = [
        _table("Idempotency", T_IDEMPOTENCY, _TABLE_CRUD),
        Grant("ClaimCheck", ("s3:GetObject", "s3:PutObject"), (Ref("objects", CLAIMS_PREFIX),)),
        Grant("TopicLookup", ("sns:ListTopics",), (Ref("any"),)),
    ]
    if spec.consumes:
        grants.append(Grant("Consume", _QUEUE_CONSUME, tuple(Ref("queue", q) for q in spec.consumes)))
        dlqs = [TOPOLOGY.queue(q).dlq_name for q in spec.consumes]
        grants.append(Grant("DeadLetter", _QUEUE_SEND, tuple(Ref("queue", d) for d in dlqs if d)))
    return grants


def _start_review(sid: str) -> list[Grant]:
    return [
        Grant(sid, ("states:StartExecution",), (Ref("state-machine", SM_ENRICHMENT_REVIEW),)),
        Grant(f"{sid}Executions", ("states:DescribeExecution",), (Ref("executions", SM_ENRICHMENT_REVIEW),)),
        Grant(f"{sid}Lookup", ("states:ListStateMachines",), (Ref("any"),)),
        Grant(f"{sid}Queue", ("sqs:GetQueueUrl",), (Ref("queue", Q_REVIEW_REQUESTS),)),
    ]


def _dlq_operator() -> list[Grant]:
    """``avs dlq`` on the operator API: list, show, replay (SQS message move or receive/send/delete)."""
    sources = [q for q in TOPOLOGY.queues if q.dlq_name]
    dead = (*(Ref("queue", q.dlq_name) for q in sources if q.dlq_name), Ref("queue", Q_IMAGE_FAILURES))
    return [
        Grant(
            "DlqRead",
            (
                *_QUEUE_CONSUME,
                "sqs:StartMessageMoveTask",
                "sqs:ListMessageMoveTasks",
                "sqs:CancelMessageMoveTask",
            ),
            dead,
        ),
        Grant("DlqReplay", _QUEUE_SEND, tuple(Ref("queue", q.name) for q in sources)),
        Grant("DlqReplayImages", ("sns:Publish",), (Ref("topic", TOPIC_IMAGE_REQUESTED),)),
    ]


def grants_for(spec: ServiceSpec, *, bedrock: bool = False) -> list[Grant]:
    """The task role of ``spec``: the worker runtime's needs plus the service's own."""
    grants = _worker(spec)
    p = spec.package
    if p == "api":
        grants += [
            _table("EntriesRead", T_ENRICHED, (*_TABLE_READ, "dynamodb:Scan"), indexes=True),
            _table(
                "ReviewTasks",
                T_REVIEW_TASKS,
                ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"),
                indexes=True,
            ),
            Grant(
                "EntryObjectsRead",
                ("s3:GetObject",),
                (Ref("objects", STAGING_PREFIX), Ref("objects", ENTRIES_OVERFLOW_PREFIX)),
            ),
            Grant(
                "ReviewCallbacks",
                ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"),
                (Ref("any"),),
            ),
            # Why a task token was refused (timed out, or the execution ended).
            Grant(
                "ReviewExecutions", ("states:DescribeExecution",), (Ref("executions", SM_ENRICHMENT_REVIEW),)
            ),
            Grant("ApiKeys", ("secretsmanager:GetSecretValue",), (Ref("secret", "api-keys"),)),
            *_dlq_operator(),
        ]
        if bedrock:
            grants.append(
                Grant(
                    "Planner",
                    ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
                    (Ref("model"),),
                )
            )
    elif p == "sync":
        grants += [
            _table("EntriesRead", T_ENRICHED, (*_TABLE_READ, "dynamodb:Scan"), indexes=True),
            _owned_update("EntriesOrphaning", "sync"),
            _table("Locks", T_LOCKS, _TABLE_CRUD),
            Grant("PublishNew", ("sns:Publish",), (Ref("topic", TOPIC_ANIME_NEW),)),
            Grant("ReviewRequests", _QUEUE_SEND, (Ref("queue", Q_REVIEW_REQUESTS),)),
            *_start_review("Review"),
            Grant("SourceVersion", ("s3:GetObject", "s3:PutObject"), (Ref("object", SNAPSHOT_KEY),)),
            Grant("Staging", ("s3:GetObject", "s3:PutObject"), (Ref("objects", STAGING_PREFIX),)),
            _OBJECT_HEADS,
            # The schedules' target: the queue's ARN is read from the queue.
            Grant(
                "EpisodeQueue",
                ("sqs:GetQueueUrl", "sqs:GetQueueAttributes"),
                tuple(Ref("queue", g.target_queue) for g in TOPOLOGY.schedule_groups),
            ),
            Grant(
                "EpisodeSchedules",
                ("scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"),
                (Ref("schedules", SCHEDULE_GROUP_EPISODES),),
            ),
            Grant(
                "EpisodeSchedulesRole",
                ("iam:PassRole",),
                (Ref("role", SCHEDULER),),
                {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            ),
        ]
    elif p == "enricher":
        grants += [
            _table("EntriesRead", T_ENRICHED, ("dynamodb:GetItem", "dynamodb:BatchGetItem")),
            Grant("EntriesOverflowRead", ("s3:GetObject",), (Ref("objects", ENTRIES_OVERFLOW_PREFIX),)),
            _table("Locks", T_LOCKS, ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")),
            Grant("PublishImages", ("sns:Publish",), (Ref("topic", TOPIC_IMAGE_REQUESTED),)),
            *_start_review("Review"),
            Grant("StagedEntries", ("s3:GetObject", "s3:PutObject"), (Ref("objects", STAGING_PREFIX),)),
            _OBJECT_HEADS,
        ]
    elif p == "image_ingestor":
        grants += [
            _table("EntriesRead", T_ENRICHED, ("dynamodb:GetItem",)),
            Grant("EntriesOverflowRead", ("s3:GetObject",), (Ref("objects", ENTRIES_OVERFLOW_PREFIX),)),
            # Only the image slots. Entries whose lists overflow to S3 are rewritten whole by
            # DynamoImageMap (a PutItem), which this role may not do: their images are
            # resolved from the map by their next commit (the indexer) instead.
            _owned_update("EntriesImages", "image_ingestor"),
            _table(
                "DedupMap",
                T_IMAGE_DEDUP,
                ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
            ),
            Grant("Failures", _QUEUE_SEND, (Ref("queue", Q_IMAGE_FAILURES),)),
            Grant("Images", ("s3:GetObject", "s3:PutObject"), (Ref("objects", IMAGES_PREFIX),)),
            _OBJECT_HEADS,
        ]
    elif p == "indexer":
        grants += [
            _table(
                "Entries",
                T_ENRICHED,
                (
                    *_TABLE_READ,
                    "dynamodb:Scan",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:BatchWriteItem",
                ),
                indexes=True,
            ),
            _table(
                "LocksRelease", T_LOCKS, ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
            ),
            _table("DedupMapRead", T_IMAGE_DEDUP, ("dynamodb:GetItem", "dynamodb:BatchGetItem")),
            _table("BulkJobs", T_BULK_JOBS, (*_TABLE_CRUD, "dynamodb:Query")),
            Grant("BulkChunks", _QUEUE_SEND, (Ref("queue", Q_INDEXER_BULK_CHUNKS),)),
            # Bulk chunks and claims (staging/), and the store's overflow objects, which it
            # deletes once no item points to them.
            Grant(
                "WorkingObjects",
                ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
                (Ref("objects", STAGING_PREFIX), Ref("objects", ENTRIES_OVERFLOW_PREFIX)),
            ),
            # Audit copies of approved entries; the snapshot (multipart) that restore reads.
            _OBJECT_HEADS,
            Grant(
                "Snapshots",
                ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"),
                (Ref("objects", UPDATED_ENTRIES_PREFIX), Ref("object", SNAPSHOT_KEY)),
            ),
        ]
    else:  # a new service must state its needs here
        raise KeyError(f"no access declared for service {p!r}")
    return grants


def state_machine_grants() -> list[Grant]:
    """The ``enrichment-review`` execution role: exactly the integrations of its ASL file."""
    return [
        Grant("ReviewRequest", ("sqs:SendMessage",), (Ref("queue", Q_REVIEW_REQUESTS),)),
        Grant("PublishApproved", ("sns:Publish",), (Ref("topic", TOPIC_ENTRY_APPROVED),)),
        Grant("ReleaseLock", ("dynamodb:DeleteItem",), (Ref("table", T_LOCKS),)),
        Grant(
            "Logs",
            (
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ),
            (Ref("any"),),
        ),
    ]


def all_grants(*, bedrock: bool = False) -> dict[str, list[Grant]]:
    return {spec.package: grants_for(spec, bedrock=bedrock) for spec in SERVICES}
