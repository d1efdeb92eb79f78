"""SNS topics, SQS queues with their dead-letter queues, the subscriptions between them,
and an alarm on every dead-letter queue.

Topics use the AWS-managed SNS key; queues SQS-managed encryption (SNS and Step
Functions can deliver to both without key grants). Each work queue redrives to its
own ``<name>-dlq`` after the catalogue's ``max_receive_count``; a DLQ accepts
redrives only from its source queue. A queue admits SNS messages only from the topics
subscribed to it, and every queue and topic refuses requests without TLS.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from avs_shared.topology import TOPOLOGY

SNS_MANAGED_KEY = "alias/aws/sns"
LONG_POLL_S = 20


@dataclass(frozen=True)
class Messaging:
    topics: dict[str, aws.sns.Topic]
    queues: dict[str, aws.sqs.Queue]  # work queues, failure queue and DLQs, by name

    def dead_letter_queues(self) -> dict[str, aws.sqs.Queue]:
        return {q.dlq_name: self.queues[q.dlq_name] for q in TOPOLOGY.queues if q.dlq_name}


def _tls_only(arn: str, action: str) -> dict[str, object]:
    return {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def build_messaging(alerts_topic: aws.sns.Topic) -> Messaging:
    topics = {
        t.name: aws.sns.Topic(f"topic-{t.name}", name=t.name, kms_master_key_id=SNS_MANAGED_KEY, tags={})
        for t in TOPOLOGY.topics
    }
    for name, topic in topics.items():
        aws.sns.TopicPolicy(
            f"topic-{name}-policy",
            arn=topic.arn,
            policy=topic.arn.apply(
                lambda arn: json.dumps(
                    {"Version": "2012-10-17", "Statement": [_tls_only(arn, "sns:Publish")]}
                )
            ),
        )

    queues: dict[str, aws.sqs.Queue] = {}
    for spec in TOPOLOGY.queues:
        if spec.dlq_name:
            queues[spec.dlq_name] = aws.sqs.Queue(
                f"queue-{spec.dlq_name}",
                name=spec.dlq_name,
                message_retention_seconds=TOPOLOGY.dlq_retention_s,
                sqs_managed_sse_enabled=True,
                receive_wait_time_seconds=LONG_POLL_S,
                tags={},
            )
    for spec in TOPOLOGY.queues:
        redrive = None
        if spec.dlq_name:
            redrive = queues[spec.dlq_name].arn.apply(_redrive_policy(spec.max_receive_count))
        queues[spec.name] = aws.sqs.Queue(
            f"queue-{spec.name}",
            name=spec.name,
            visibility_timeout_seconds=spec.visibility_timeout_s,
            message_retention_seconds=spec.retention_s,
            receive_wait_time_seconds=LONG_POLL_S,
            sqs_managed_sse_enabled=True,
            redrive_policy=redrive,
            tags={},
        )
        if spec.dlq_name:
            aws.sqs.RedriveAllowPolicy(
                f"queue-{spec.dlq_name}-redrive-allow",
                queue_url=queues[spec.dlq_name].id,
                redrive_allow_policy=queues[spec.name].arn.apply(
                    lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
                ),
            )

    by_queue: dict[str, list[str]] = defaultdict(list)
    for sub in TOPOLOGY.subscriptions:
        aws.sns.TopicSubscription(
            f"sub-{sub.topic}-{sub.queue}",
            topic=topics[sub.topic].arn,
            protocol="sqs",
            endpoint=queues[sub.queue].arn,
            raw_message_delivery=sub.raw_delivery,
        )
        by_queue[sub.queue].append(sub.topic)
    for name, queue in queues.items():
        sources = [topics[t].arn for t in by_queue.get(name, [])]
        aws.sqs.QueuePolicy(
            f"queue-{name}-policy",
            queue_url=queue.id,
            policy=pulumi.Output.all(queue.arn, *sources).apply(lambda a: _queue_policy(a[0], a[1:])),
        )

    for name, dlq in Messaging(topics, queues).dead_letter_queues().items():
        aws.cloudwatch.MetricAlarm(
            f"alarm-{name}",
            alarm_description=f"{name} holds messages: see docs/operations.md, 'A growing DLQ'",
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": name},
            statistic="Maximum",
            period=300,
            evaluation_periods=1,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[alerts_topic.arn],
            ok_actions=[alerts_topic.arn],
            tags={},
            opts=pulumi.ResourceOptions(depends_on=[dlq]),
        )
    return Messaging(topics=topics, queues=queues)


def _redrive_policy(max_receive_count: int) -> Callable[[str], str]:
    def policy(dlq_arn: str) -> str:
        return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})

    return policy


def _queue_policy(queue_arn: str, topic_arns: list[str]) -> str:
    statements: list[dict[str, object]] = [_tls_only(queue_arn, "sqs:*")]
    if topic_arns:
        statements.append(
            {
                "Sid": "FromSubscribedTopics",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arns}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
