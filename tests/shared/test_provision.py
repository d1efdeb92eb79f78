"""Provisioning the catalogue against the real moto server."""

from __future__ import annotations

import json

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.topology import TOPOLOGY


async def test_provision_twice_changes_nothing(provisioned: Provisioner, aws: AwsClients) -> None:
    before = await provisioned.inspect()
    again = await provisioned.provision()
    after = await provisioned.inspect()

    assert again.created == [] and again.updated == []
    assert [(r.kind, r.name, r.state) for r in before] == [(r.kind, r.name, r.state) for r in after]
    assert all(r.state == "ok" for r in after), [r for r in after if r.state != "ok"]


async def test_every_work_queue_redrives_to_its_dlq(provisioned: Provisioner, aws: AwsClients) -> None:
    sqs = await aws.client("sqs")
    for queue in TOPOLOGY.queues:
        url = (await sqs.get_queue_url(QueueName=queue.name))["QueueUrl"]
        attrs = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]
        if queue.dlq_name is None:
            assert "RedrivePolicy" not in attrs
            continue
        policy = json.loads(attrs["RedrivePolicy"])
        assert policy["deadLetterTargetArn"].endswith(":" + queue.dlq_name)
        assert int(policy["maxReceiveCount"]) == queue.max_receive_count
        assert attrs["VisibilityTimeout"] == str(queue.visibility_timeout_s)


async def test_tables_have_keys_gsis_and_ttl(provisioned: Provisioner, aws: AwsClients) -> None:
    ddb = await aws.client("dynamodb")
    for table in TOPOLOGY.tables:
        desc = (await ddb.describe_table(TableName=table.name))["Table"]
        assert desc["KeySchema"][0] == {"AttributeName": table.hash_key, "KeyType": "HASH"}
        assert sorted(g["IndexName"] for g in desc.get("GlobalSecondaryIndexes", [])) == sorted(
            g.name for g in table.gsis
        )
        ttl = (await ddb.describe_time_to_live(TableName=table.name))["TimeToLiveDescription"]
        if table.ttl_attribute:
            assert ttl["AttributeName"] == table.ttl_attribute
            assert ttl["TimeToLiveStatus"] == "ENABLED"


async def test_inspect_reports_a_missing_queue(provisioned: Provisioner, aws: AwsClients) -> None:
    sqs = await aws.client("sqs")
    url = (await sqs.get_queue_url(QueueName="review-requests-dlq"))["QueueUrl"]
    await sqs.delete_queue(QueueUrl=url)

    rows = {(r.kind, r.name): r for r in await provisioned.inspect()}

    assert rows[("sqs", "review-requests")].state == "missing"
    assert "review-requests-dlq" in rows[("sqs", "review-requests")].detail
    report = await provisioned.provision()
    assert "sqs:review-requests-dlq" in report.created


async def test_every_subscription_delivers_raw_and_provision_repairs_a_wrapped_one(
    provisioned: Provisioner, aws: AwsClients
) -> None:
    sns = await aws.client("sns")
    subs = (await sns.list_subscriptions())["Subscriptions"]
    ours = {s["Endpoint"].rsplit(":", 1)[-1]: s["SubscriptionArn"] for s in subs}
    assert {sub.queue for sub in TOPOLOGY.subscriptions} <= set(ours)
    for sub in TOPOLOGY.subscriptions:
        attrs = (await sns.get_subscription_attributes(SubscriptionArn=ours[sub.queue]))["Attributes"]
        assert attrs["RawMessageDelivery"] == "true"

    # Someone turned raw delivery off by hand: the next provision turns it back on.
    victim = TOPOLOGY.subscriptions[0]
    await sns.set_subscription_attributes(
        SubscriptionArn=ours[victim.queue], AttributeName="RawMessageDelivery", AttributeValue="false"
    )
    report = await provisioned.provision()

    label = f"sns-sub:{victim.topic}->{victim.queue}"
    assert report.updated == [label] and report.created == []
    attrs = (await sns.get_subscription_attributes(SubscriptionArn=ours[victim.queue]))["Attributes"]
    assert attrs["RawMessageDelivery"] == "true"
