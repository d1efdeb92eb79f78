"""A queue the worker consumes: its URLs, its visibility timeout, and the three
things the runtime does to a message when it is finished with it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from aiobotocore.client import AioBaseClient

from avs_shared.errors import ConfigurationError
from avs_shared.topology import Topology

MAX_VISIBILITY_S = 43_200  # SQS's limit (12 h)
_MAX_ATTRIBUTES = 10  # SQS's limit per message


def clamp_visibility(seconds: float) -> int:
    """Seconds for ChangeMessageVisibility: rounded up, within 0..43200."""
    if math.isnan(seconds):
        return 0
    return max(0, min(MAX_VISIBILITY_S, math.ceil(seconds)))


@dataclass(frozen=True)
class BoundQueue:
    """A queue resolved against the endpoint, read once when the worker starts."""

    name: str
    url: str
    visibility_timeout_s: int
    dlq_name: str | None
    dlq_url: str | None

    @classmethod
    async def resolve(cls, sqs: AioBaseClient, topology: Topology, name: str) -> BoundQueue:
        try:
            spec = topology.queue(name)
        except KeyError as exc:
            raise ConfigurationError(f"queue {name!r} is not in the topology catalogue") from exc
        url = await _url(sqs, name)
        attrs = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"]))[
            "Attributes"
        ]
        dlq_url = await _url(sqs, spec.dlq_name) if spec.dlq_name else None
        return cls(
            name=name,
            url=url,
            visibility_timeout_s=int(attrs.get("VisibilityTimeout", spec.visibility_timeout_s)),
            dlq_name=spec.dlq_name,
            dlq_url=dlq_url,
        )

    async def delete(self, sqs: AioBaseClient, receipt_handle: str) -> None:
        await sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handle)

    async def retry_in(self, sqs: AioBaseClient, receipt_handle: str, seconds: float) -> None:
        await sqs.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=clamp_visibility(seconds)
        )

    async def dead_letter(
        self,
        sqs: AioBaseClient,
        message: Mapping[str, object],
        *,
        reason: str,
        error_type: str,
        receive_count: int,
    ) -> None:
        """Send the original body to the DLQ with why, then delete the original.

        The delete happens only after the send succeeded, so a failure here leaves
        the message where it was (it comes back and is tried again).
        """
        if self.dlq_url is None:
            raise ConfigurationError(f"queue {self.name} has no dead-letter queue")
        attributes: dict[str, dict[str, str]] = {
            "error_reason": _string(reason or error_type),
            "error_type": _string(error_type),
            "source_queue": _string(self.name),
            "receive_count": {"DataType": "Number", "StringValue": str(receive_count)},
        }
        original = message.get("MessageAttributes")
        if isinstance(original, Mapping):  # keep what fits, e.g. traceparent of a raw message
            for key, attr in original.items():
                if len(attributes) >= _MAX_ATTRIBUTES:
                    break
                if key not in attributes and isinstance(attr, Mapping) and attr.get("StringValue"):
                    attributes[str(key)] = {
                        "DataType": str(attr.get("DataType", "String")),
                        "StringValue": str(attr["StringValue"]),
                    }
        await sqs.send_message(
            QueueUrl=self.dlq_url, MessageBody=str(message["Body"]), MessageAttributes=attributes
        )
        await self.delete(sqs, str(message["ReceiptHandle"]))


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


async def _url(sqs: AioBaseClient, name: str) -> str:
    try:
        return str((await sqs.get_queue_url(QueueName=name))["QueueUrl"])
    except Exception as exc:
        raise ConfigurationError(
            f"queue {name!r} does not exist at the configured endpoint; provision the topology first"
        ) from exc
