"""The resource catalogue: every bucket, table, topic, queue, subscription, state
machine, cron schedule and schedule group of the system, named once.

The local provisioner, ``avs local status`` and the Pulumi program all read this
module; no resource name is typed anywhere else. Names are the public contract of
ARCHITECTURE.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeVar

KeyType = Literal["S", "N", "B"]


@dataclass(frozen=True)
class LifecycleRule:
    """Objects under ``prefix`` expire after ``expire_days``."""

    id: str
    prefix: str
    expire_days: int


@dataclass(frozen=True)
class Bucket:
    name: str
    versioned: bool = True
    lifecycle: tuple[LifecycleRule, ...] = ()


@dataclass(frozen=True)
class Gsi:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Table:
    """A DynamoDB table; ``attributes`` declares the type of every key attribute."""

    name: str
    hash_key: str
    attributes: dict[str, KeyType]
    range_key: str | None = None
    gsis: tuple[Gsi, ...] = ()
    ttl_attribute: str | None = None
    purpose: str = ""


@dataclass(frozen=True)
class Queue:
    """An SQS queue. ``dlq`` is True for a work queue with its own ``<name>-dlq``."""

    name: str
    visibility_timeout_s: int = 60
    max_receive_count: int = 5
    dlq: bool = True
    retention_s: int = 4 * 24 * 3600
    purpose: str = ""

    @property
    def dlq_name(self) -> str | None:
        return f"{self.name}-dlq" if self.dlq else None


@dataclass(frozen=True)
class Topic:
    name: str


@dataclass(frozen=True)
class Subscription:
    """An SQS queue subscribed to an SNS topic.

    ``raw_delivery``: the queue receives the published envelope itself, with the SNS
    message attributes (event type, trace context) as SQS message attributes, instead
    of an SNS notification wrapping it. Every subscription of the catalogue uses it: the
    messages are ~1 KB smaller, the consumer parses one JSON document instead of two, and
    SNS signs nothing per message (moto builds a certificate and an RSA signature for each
    wrapped notification, which dominated its CPU during a bulk load). The worker runtime
    reads both forms (:func:`avs_shared.runtime.inbound.unwrap`), so a subscription
    switched either way keeps working while messages of the other form drain.
    """

    topic: str
    queue: str
    raw_delivery: bool = False


@dataclass(frozen=True)
class StateMachine:
    """A Step Functions standard workflow; ``definition`` is the ASL file, relative to ``infra/``."""

    name: str
    definition: str


@dataclass(frozen=True)
class Schedule:
    """A cron job. ``expression`` is EventBridge syntax: ``cron(...)`` or ``rate(...)`` (UTC)."""

    name: str
    expression: str
    service: str
    description: str


@dataclass(frozen=True)
class ScheduleGroup:
    """An EventBridge Scheduler group for one-time schedules created at run time."""

    name: str
    target_queue: str


@dataclass(frozen=True)
class Topology:
    bucket: Bucket
    tables: tuple[Table, ...]
    topics: tuple[Topic, ...]
    queues: tuple[Queue, ...]
    subscriptions: tuple[Subscription, ...]
    state_machines: tuple[StateMachine, ...]
    schedules: tuple[Schedule, ...]
    schedule_groups: tuple[ScheduleGroup, ...]
    dlq_retention_s: int = 14 * 24 * 3600
    extra: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        return _by_name(self.tables, name)

    def queue(self, name: str) -> Queue:
        return _by_name(self.queues, name)

    def schedule(self, name: str) -> Schedule:
        return _by_name(self.schedules, name)

    def all_queue_names(self) -> list[str]:
        """Every queue including the dead-letter queues, in provisioning order (DLQs first)."""
        names = [q.dlq_name for q in self.queues if q.dlq_name]
        return names + [q.name for q in self.queues]

    def source_queue_of(self, dlq_name: str) -> Queue | None:
        return next((q for q in self.queues if q.dlq_name == dlq_name), None)


_Named = TypeVar("_Named", Table, Queue, Schedule)


def _by_name(items: tuple[_Named, ...], name: str) -> _Named:
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"{name!r} is not in the topology catalogue")


# --- names (import these instead of typing strings) ---------------------------------
BUCKET = "anime-vector-service-data"
IMAGES_PREFIX = "images/"
STAGING_PREFIX = "staging/"
SNAPSHOT_KEY = "processed/enriched_anime_database.json"
UPDATED_ENTRIES_PREFIX = "processed/updated-entries/"
# Fields of entries too large for one DynamoDB item (DynamoEntryStore's overflow_prefix).
ENTRIES_OVERFLOW_PREFIX = "entries-overflow/"
SOURCE_COMMIT_METADATA = "source-commit-sha"

T_ENRICHED = "anime-enriched-data"
T_LOCKS = "anime-processing-locks"
T_IMAGE_DEDUP = "image-deduplication-map"
T_REVIEW_TASKS = "anime-review-tasks"
T_IDEMPOTENCY = "anime-handler-idempotency"
T_BULK_JOBS = "anime-bulk-jobs"
GSI_SYSTEM_STATUS = "system_status-index"
GSI_REVIEW_STATUS = "status-index"

TOPIC_ANIME_NEW = "anime-new"
TOPIC_IMAGE_REQUESTED = "image-requested"
TOPIC_ENTRY_APPROVED = "entry-approved"

Q_ENRICHER_ANIME_NEW = "enricher-anime-new"
Q_ENRICHER_EPISODE_UPDATE = "enricher-episode-update"
Q_IMAGE_REQUESTED = "image-ingestor-image-requested"
Q_INDEXER_ENTRY_APPROVED = "indexer-entry-approved"
Q_REVIEW_REQUESTS = "review-requests"
Q_IMAGE_FAILURES = "image-ingestion-failures"
Q_INDEXER_BULK_CHUNKS = "indexer-bulk-chunks"
BULK_PREFIX = "staging/bulk/"

SM_ENRICHMENT_REVIEW = "enrichment-review"

S_WEEKLY_SYNC = "weekly-sync"
S_DAILY_EPISODES = "daily-episode-scheduler"
S_WEEKLY_SNAPSHOT = "weekly-snapshot"
S_CURATED_LISTS = "curated-lists-refresh"
S_REVIEW_HEARTBEAT = "review-heartbeat"
SCHEDULE_GROUP_EPISODES = "anime-episode-updates"
# The IAM role EventBridge Scheduler assumes to send a one-time schedule's input to its queue.
SCHEDULER_ROLE = "anime-episode-scheduler"

TOPOLOGY = Topology(
    bucket=Bucket(
        name=BUCKET,
        lifecycle=(LifecycleRule(id="expire-staging", prefix=STAGING_PREFIX, expire_days=14),),
    ),
    tables=(
        Table(
            name=T_ENRICHED,
            hash_key="anime_id",
            attributes={"anime_id": "S", "system_status": "S"},
            gsis=(Gsi(name=GSI_SYSTEM_STATUS, hash_key="system_status"),),
            purpose="enriched AnimeEntry items, the source of truth",
        ),
        Table(
            name=T_LOCKS,
            hash_key="anime_id",
            attributes={"anime_id": "S"},
            ttl_attribute="ttl",
            purpose="processing locks; free when absent or ttl in the past",
        ),
        Table(
            name=T_IMAGE_DEDUP,
            hash_key="source_url_hash",
            attributes={"source_url_hash": "S"},
            ttl_attribute="ttl",
            purpose="source image URL hash -> stored key or DOWNLOAD_FAILED",
        ),
        Table(
            name=T_REVIEW_TASKS,
            hash_key="task_id",
            attributes={"task_id": "S", "status": "S", "created_at": "S"},
            gsis=(Gsi(name=GSI_REVIEW_STATUS, hash_key="status", range_key="created_at"),),
            purpose="pending and finished human review tasks",
        ),
        Table(
            name=T_IDEMPOTENCY,
            hash_key="idempotency_key",
            attributes={"idempotency_key": "S"},
            ttl_attribute="expires_at",
            purpose="message handler claims keyed by handler and event_id",
        ),
        Table(
            name=T_BULK_JOBS,
            hash_key="job_id",
            attributes={"job_id": "S"},
            ttl_attribute="expires_at",
            purpose="bulk load jobs (bootstrap, restore, reindex): chunk plan and finished chunks",
        ),
    ),
    topics=(Topic(TOPIC_ANIME_NEW), Topic(TOPIC_IMAGE_REQUESTED), Topic(TOPIC_ENTRY_APPROVED)),
    queues=(
        Queue(Q_ENRICHER_ANIME_NEW, visibility_timeout_s=300, purpose="new anime to enrich"),
        Queue(Q_ENRICHER_EPISODE_UPDATE, visibility_timeout_s=300, purpose="one episode to refresh"),
        Queue(Q_IMAGE_REQUESTED, visibility_timeout_s=180, purpose="images to re-host"),
        Queue(Q_INDEXER_ENTRY_APPROVED, visibility_timeout_s=120, purpose="approved entries to commit"),
        Queue(Q_REVIEW_REQUESTS, visibility_timeout_s=60, purpose="review tasks for people"),
        Queue(
            Q_INDEXER_BULK_CHUNKS,
            visibility_timeout_s=900,
            max_receive_count=3,
            purpose="chunks of a bulk load (bootstrap, restore, reindex) for any indexer worker",
        ),
        Queue(
            Q_IMAGE_FAILURES,
            dlq=False,
            retention_s=14 * 24 * 3600,
            purpose="structured records of images that failed for good",
        ),
    ),
    subscriptions=(
        Subscription(TOPIC_ANIME_NEW, Q_ENRICHER_ANIME_NEW, raw_delivery=True),
        Subscription(TOPIC_IMAGE_REQUESTED, Q_IMAGE_REQUESTED, raw_delivery=True),
        Subscription(TOPIC_ENTRY_APPROVED, Q_INDEXER_ENTRY_APPROVED, raw_delivery=True),
    ),
    state_machines=(StateMachine(SM_ENRICHMENT_REVIEW, "statemachines/enrichment-review.asl.json"),),
    schedules=(
        Schedule(S_WEEKLY_SYNC, "cron(0 1 ? * SAT *)", "sync", "diff the offline database"),
        Schedule(S_DAILY_EPISODES, "cron(5 0 * * ? *)", "sync", "schedule today's episodes"),
        Schedule(S_WEEKLY_SNAPSHOT, "cron(0 3 ? * SUN *)", "indexer", "snapshot the table to S3"),
        Schedule(S_CURATED_LISTS, "rate(12 hours)", "api", "precompute /popular and /top-rated"),
        Schedule(S_REVIEW_HEARTBEAT, "rate(6 hours)", "api", "heartbeat pending reviews, close expired"),
    ),
    schedule_groups=(ScheduleGroup(SCHEDULE_GROUP_EPISODES, Q_ENRICHER_EPISODE_UPDATE),),
)
