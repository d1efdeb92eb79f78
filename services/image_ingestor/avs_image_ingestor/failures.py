"""Sending the structured failure records to ``image-ingestion-failures`` (SQS, no SNS)."""

from __future__ import annotations

from avs_shared.adapters.aws import AwsClients
from avs_shared.events.failures import ImageIngestionFailure
from avs_shared.topology import Q_IMAGE_FAILURES

FAILURE_EVENT_TYPE = "image-ingestion-failure"


class FailureQueue:
    """The failure queue; its URL is looked up once."""

    def __init__(self, aws: AwsClients, queue: str = Q_IMAGE_FAILURES) -> None:
        self._aws = aws
        self._queue = queue
        self._url: str | None = None

    @property
    def name(self) -> str:
        return self._queue

    async def send(self, failure: ImageIngestionFailure) -> str:
        """Send one record; returns the SQS message id."""
        sqs = await self._aws.client("sqs")
        if self._url is None:
            self._url = str((await sqs.get_queue_url(QueueName=self._queue))["QueueUrl"])
        resp = await sqs.send_message(
            QueueUrl=self._url,
            MessageBody=failure.to_json(),
            MessageAttributes={
                "event_type": {"DataType": "String", "StringValue": FAILURE_EVENT_TYPE},
                "anime_id": {"DataType": "String", "StringValue": failure.anime_id},
            },
        )
        return str(resp["MessageId"])
