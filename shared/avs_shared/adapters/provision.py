"""Provision and inspect the topology catalogue against an AWS endpoint (moto, LocalStack, AWS).

``provision`` is idempotent: it creates what is missing and converges attributes
of what exists, so running it twice changes nothing. ``inspect`` reports every
resource with its state (and queue depths), and says what is missing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.topology import Queue, Table, Topology

State = Literal["ok", "missing", "error"]


@dataclass
class ResourceStatus:
    kind: str
    name: str
    state: State
    detail: str = ""
    depths: dict[str, int] = field(default_factory=dict)


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


class Provisioner:
    """Creates and inspects the catalogue's resources through one :class:`AwsClients`."""

    def __init__(self, aws: AwsClients, topology: Topology, *, infra_dir: Path) -> None:
        self._aws = aws
        self._topology = topology
        self._infra_dir = infra_dir

    # ------------------------------------------------------------------ provision
    async def provision(self) -> ProvisionReport:
        report = ProvisionReport()
        await self._bucket(report)
        for table in self._topology.tables:
            await self._table(table, report)
        topic_arns = {t.name: await self._topic(t.name, report) for t in self._topology.topics}
        queue_arns: dict[str, str] = {}
        for queue in self._topology.queues:
            if queue.dlq_name:
                queue_arns[queue.dlq_name] = await self._queue(
                    queue.dlq_name, {"MessageRetentionPeriod": str(self._topology.dlq_retention_s)}, report
                )
        for queue in self._topology.queues:
            queue_arns[queue.name] = await self._queue(
                queue.name, self._queue_attributes(queue, queue_arns), report
            )
        for sub in self._topology.subscriptions:
            await self._subscription(topic_arns[sub.topic], queue_arns[sub.queue], sub.raw_delivery, report)
        for machine in self._topology.state_machines:
            await self._state_machine(machine.name, self._infra_dir / machine.definition, report)
        for schedule in self._topology.schedules:
            await self._rule(schedule.name, schedule.expression, schedule.description, report)
        for group in self._topology.schedule_groups:
            await self._schedule_group(group.name, report)
        return report

    async def _bucket(self, report: ProvisionReport) -> None:
        s3 = await self._aws.client("s3")
        bucket = self._topology.bucket
        try:
            await s3.head_bucket(Bucket=bucket.name)
            report.unchanged.append(f"s3:{bucket.name}")
        except ClientError:
            kwargs: dict[str, object] = {"Bucket": bucket.name}
            if self._aws.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self._aws.region}
            await s3.create_bucket(**kwargs)
            report.created.append(f"s3:{bucket.name}")
        if bucket.versioned:
            await s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
        if bucket.lifecycle:
            rules = [
                {
                    "ID": rule.id,
                    "Filter": {"Prefix": rule.prefix},
                    "Status": "Enabled",
                    "Expiration": {"Days": rule.expire_days},
                }
                for rule in bucket.lifecycle
            ]
            await s3.put_bucket_lifecycle_configuration(
                Bucket=bucket.name, LifecycleConfiguration={"Rules": rules}
            )

    async def _table(self, table: Table, report: ProvisionReport) -> None:
        ddb = await self._aws.client("dynamodb")
        try:
            await ddb.describe_table(TableName=table.name)
            report.unchanged.append(f"dynamodb:{table.name}")
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            key_schema = [{"AttributeName": table.hash_key, "KeyType": "HASH"}]
            if table.range_key:
                key_schema.append({"AttributeName": table.range_key, "KeyType": "RANGE"})
            kwargs: dict[str, object] = {
                "TableName": table.name,
                "KeySchema": key_schema,
                "AttributeDefinitions": [
                    {"AttributeName": n, "AttributeType": t} for n, t in table.attributes.items()
                ],
                "BillingMode": "PAY_PER_REQUEST",
            }
            if table.gsis:
                kwargs["GlobalSecondaryIndexes"] = [
                    {
                        "IndexName": g.name,
                        "KeySchema": [{"AttributeName": g.hash_key, "KeyType": "HASH"}]
                        + ([{"AttributeName": g.range_key, "KeyType": "RANGE"}] if g.range_key else []),
                        "Projection": {"ProjectionType": "ALL"},
                    }
                    for g in table.gsis
                ]
            await ddb.create_table(**kwargs)
            waiter = ddb.get_waiter("table_exists")
            await waiter.wait(TableName=table.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
            report.created.append(f"dynamodb:{table.name}")
        if table.ttl_attribute:
            ttl = await ddb.describe_time_to_live(TableName=table.name)
            desc = ttl.get("TimeToLiveDescription", {})
            if desc.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                await ddb.update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )

    async def _topic(self, name: str, report: ProvisionReport) -> str:
        sns = await self._aws.client("sns")
        existing = await self.topic_arn(name)
        if existing:
            report.unchanged.append(f"sns:{name}")
            return existing
        resp = await sns.create_topic(Name=name)
        report.created.append(f"sns:{name}")
        return str(resp["TopicArn"])

    def _queue_attributes(self, queue: Queue, arns: dict[str, str]) -> dict[str, str]:
        attrs = {
            "VisibilityTimeout": str(queue.visibility_timeout_s),
            "MessageRetentionPeriod": str(queue.retention_s),
        }
        if queue.dlq_name:
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[queue.dlq_name], "maxReceiveCount": str(queue.max_receive_count)}
            )
        return attrs

    async def _queue(self, name: str, attrs: dict[str, str], report: ProvisionReport) -> str:
        sqs = await self._aws.client("sqs")
        try:
            url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
        except ClientError as exc:
            if "NonExistentQueue" not in error_code(exc) and error_code(exc) != "QueueDoesNotExist":
                raise
            url = (await sqs.create_queue(QueueName=name, Attributes=attrs))["QueueUrl"]
            report.created.append(f"sqs:{name}")
        else:
            current = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]
            if any(_norm(current.get(k)) != _norm(v) for k, v in attrs.items()):
                await sqs.set_queue_attributes(QueueUrl=url, Attributes=attrs)
                report.updated.append(f"sqs:{name}")
            else:
                report.unchanged.append(f"sqs:{name}")
        got = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(got["Attributes"]["QueueArn"])

    async def _subscription(self, topic_arn: str, queue_arn: str, raw: bool, report: ProvisionReport) -> None:
        sns = await self._aws.client("sns")
        subs = await self._subscriptions(topic_arn)
        label = f"sns-sub:{topic_arn.rsplit(':', 1)[-1]}->{queue_arn.rsplit(':', 1)[-1]}"
        wanted = "true" if raw else "false"
        for sub in subs:
            if sub.get("Endpoint") != queue_arn or sub.get("Protocol") != "sqs":
                continue
            arn = sub["SubscriptionArn"]
            got = await sns.get_subscription_attributes(SubscriptionArn=arn)
            if got.get("Attributes", {}).get("RawMessageDelivery", "false") == wanted:
                report.unchanged.append(label)
            else:
                await sns.set_subscription_attributes(
                    SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue=wanted
                )
                report.updated.append(label)
            return
        await sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true" if raw else "false"},
        )
        report.created.append(label)

    async def _subscriptions(self, topic_arn: str) -> list[dict[str, str]]:
        sns = await self._aws.client("sns")
        out: list[dict[str, str]] = []
        kwargs: dict[str, str] = {"TopicArn": topic_arn}
        while True:
            page = await sns.list_subscriptions_by_topic(**kwargs)
            out.extend(page.get("Subscriptions", []))
            if not page.get("NextToken"):
                return out
            kwargs["NextToken"] = page["NextToken"]

    async def account_id(self) -> str:
        sts = await self._aws.client("sts")
        return str((await sts.get_caller_identity())["Account"])

    async def _state_machine(self, name: str, definition_path: Path, report: ProvisionReport) -> None:
        sfn = await self._aws.client("stepfunctions")
        definition = await asyncio.to_thread(definition_path.read_text)
        json.loads(definition)  # a broken ASL file must stop provisioning with a clear error
        arn = await self.state_machine_arn(name)
        if arn:
            current = await sfn.describe_state_machine(stateMachineArn=arn)
            if current["definition"] == definition:
                report.unchanged.append(f"states:{name}")
            else:
                await sfn.update_state_machine(stateMachineArn=arn, definition=definition)
                report.updated.append(f"states:{name}")
            return
        role = f"arn:aws:iam::{await self.account_id()}:role/{name}-execution"
        await sfn.create_state_machine(name=name, definition=definition, roleArn=role, type="STANDARD")
        report.created.append(f"states:{name}")

    async def _rule(self, name: str, expression: str, description: str, report: ProvisionReport) -> None:
        events = await self._aws.client("events")
        try:
            current = await events.describe_rule(Name=name)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            current = {}
        if current.get("ScheduleExpression") == expression:
            report.unchanged.append(f"events-rule:{name}")
            return
        await events.put_rule(
            Name=name, ScheduleExpression=expression, State="ENABLED", Description=description
        )
        (report.updated if current else report.created).append(f"events-rule:{name}")

    async def _schedule_group(self, name: str, report: ProvisionReport) -> None:
        scheduler = await self._aws.client("scheduler")
        try:
            await scheduler.get_schedule_group(Name=name)
            report.unchanged.append(f"schedule-group:{name}")
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            await scheduler.create_schedule_group(Name=name)
            report.created.append(f"schedule-group:{name}")

    # ------------------------------------------------------------------ lookups
    async def topic_arn(self, name: str) -> str | None:
        sns = await self._aws.client("sns")
        kwargs: dict[str, str] = {}
        while True:
            page = await sns.list_topics(**kwargs)
            for topic in page.get("Topics", []):
                if str(topic["TopicArn"]).rsplit(":", 1)[-1] == name:
                    return str(topic["TopicArn"])
            if not page.get("NextToken"):
                return None
            kwargs["NextToken"] = page["NextToken"]

    async def state_machine_arn(self, name: str) -> str | None:
        sfn = await self._aws.client("stepfunctions")
        paginator = sfn.get_paginator("list_state_machines")
        async for page in paginator.paginate():
            for machine in page.get("stateMachines", []):
                if machine["name"] == name:
                    return str(machine["stateMachineArn"])
        return None

    # ------------------------------------------------------------------ inspect
    async def inspect(self) -> list[ResourceStatus]:
        """The state of every catalogue resource; never raises for a missing one."""
        rows: list[ResourceStatus] = []
        s3 = await self._aws.client("s3")
        try:
            await s3.head_bucket(Bucket=self._topology.bucket.name)
            rows.append(ResourceStatus("s3", self._topology.bucket.name, "ok"))
        except ClientError:
            rows.append(ResourceStatus("s3", self._topology.bucket.name, "missing"))
        ddb = await self._aws.client("dynamodb")
        for table in self._topology.tables:
            try:
                desc = (await ddb.describe_table(TableName=table.name))["Table"]
                rows.append(
                    ResourceStatus(
                        "dynamodb", table.name, "ok", f"{desc.get('ItemCount', 0)} items (approx.)"
                    )
                )
            except ClientError:
                rows.append(ResourceStatus("dynamodb", table.name, "missing"))
        for topic in self._topology.topics:
            arn = await self.topic_arn(topic.name)
            rows.append(ResourceStatus("sns", topic.name, "ok" if arn else "missing"))
        for queue in self._topology.queues:
            rows.append(await self._queue_status(queue))
        for machine in self._topology.state_machines:
            arn = await self.state_machine_arn(machine.name)
            rows.append(ResourceStatus("states", machine.name, "ok" if arn else "missing"))
        events = await self._aws.client("events")
        for schedule in self._topology.schedules:
            try:
                rule = await events.describe_rule(Name=schedule.name)
                rows.append(ResourceStatus("cron", schedule.name, "ok", str(rule.get("ScheduleExpression"))))
            except ClientError:
                rows.append(ResourceStatus("cron", schedule.name, "missing", schedule.expression))
        scheduler = await self._aws.client("scheduler")
        for group in self._topology.schedule_groups:
            try:
                await scheduler.get_schedule_group(Name=group.name)
                rows.append(ResourceStatus("schedule-group", group.name, "ok"))
            except ClientError:
                rows.append(ResourceStatus("schedule-group", group.name, "missing"))
        return rows

    async def queue_depths(self, name: str) -> dict[str, int] | None:
        sqs = await self._aws.client("sqs")
        try:
            url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
        except ClientError:
            return None
        attrs = (
            await sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )
        )["Attributes"]
        return {
            "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        }

    async def _queue_status(self, queue: Queue) -> ResourceStatus:
        depths = await self.queue_depths(queue.name)
        if depths is None:
            return ResourceStatus("sqs", queue.name, "missing")
        status = ResourceStatus("sqs", queue.name, "ok", depths=dict(depths))
        if queue.dlq_name:
            dlq = await self.queue_depths(queue.dlq_name)
            if dlq is None:
                status.state = "missing"
                status.detail = f"dead-letter queue {queue.dlq_name} is missing"
            else:
                status.depths["dlq"] = dlq["visible"]
        return status


def _norm(value: str | None) -> object:
    """Compare queue attributes structurally (a redrive policy is JSON whose number may be a string)."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, dict):
        return {k: str(v) for k, v in parsed.items()}
    return str(parsed)
