"""One-time EventBridge Scheduler schedules: one per episode about to air.

A schedule is named ``animeId-{anime_id}-episode-{episode_number}`` (deterministic, so
"already exists" means "already scheduled" and counts as success), fires
``at(yyyy-mm-ddThh:mm:ss)`` in UTC, and sends an :class:`~avs_shared.events.EpisodeUpdate`
envelope to the ``enricher-episode-update`` queue. It deletes itself after firing
(``ActionAfterCompletion=DELETE``). Under ``avs run`` the local schedule dispatcher
delivers them, since moto stores schedules but never fires them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.events import Envelope, EpisodeUpdate, derive_event_id
from avs_shared.topology import Q_ENRICHER_EPISODE_UPDATE, SCHEDULE_GROUP_EPISODES, SCHEDULER_ROLE

MAX_EVENT_AGE_S = 24 * 3600


def schedule_name(anime_id: str, episode_number: int) -> str:
    return f"animeId-{anime_id}-episode-{episode_number}"


def at_expression(when: datetime) -> str:
    """``at(yyyy-mm-ddThh:mm:ss)`` of an instant, in UTC (seconds precision)."""
    return f"at({when.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def episode_update_envelope(anime_id: str, episode_number: int) -> Envelope:
    """The schedule's input; its event id is stable per (anime, episode)."""
    payload = EpisodeUpdate(anime_id=anime_id, episode_number=episode_number)
    return payload.envelope(event_id=derive_event_id("episode-update", anime_id, str(episode_number)))


class EpisodeSchedules:
    """Creates the one-time schedules of the ``anime-episode-updates`` group."""

    def __init__(
        self,
        aws: AwsClients,
        *,
        group: str = SCHEDULE_GROUP_EPISODES,
        queue: str = Q_ENRICHER_EPISODE_UPDATE,
        role: str = SCHEDULER_ROLE,
    ) -> None:
        self._aws = aws
        self.group = group
        self._queue = queue
        self._role = role
        self._arns: tuple[str, str] | None = None

    async def create(self, anime_id: str, episode_number: int, when: datetime) -> bool:
        """Schedule the update of one episode at ``when``; False when it already exists."""
        queue_arn, role_arn = await self._targets()
        envelope = episode_update_envelope(anime_id, episode_number)
        scheduler = await self._aws.client("scheduler")
        try:
            await scheduler.create_schedule(
                Name=schedule_name(anime_id, episode_number),
                GroupName=self.group,
                ScheduleExpression=at_expression(when),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                State="ENABLED",
                Description=f"episode {episode_number} of {anime_id} airs",
                Target={
                    "Arn": queue_arn,
                    "RoleArn": role_arn,
                    "Input": envelope.to_json(),
                    "RetryPolicy": {"MaximumEventAgeInSeconds": MAX_EVENT_AGE_S, "MaximumRetryAttempts": 185},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConflictException":
                return False
            raise
        return True

    async def _targets(self) -> tuple[str, str]:
        """The queue's ARN and the role's, in the queue's account."""
        if self._arns is None:
            sqs = await self._aws.client("sqs")
            url = (await sqs.get_queue_url(QueueName=self._queue))["QueueUrl"]
            attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            queue_arn = str(attrs["Attributes"]["QueueArn"])
            partition, account = queue_arn.split(":")[1], queue_arn.split(":")[4]
            self._arns = (queue_arn, f"arn:{partition}:iam::{account}:role/{self._role}")
        return self._arns
