"""Storage, tables and messaging of every stack, as the catalogue describes them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

from avs_infra.mocking import built  # noqa: E402

from avs_shared.topology import IMAGES_PREFIX, TOPOLOGY  # noqa: E402

STACKS = ("dev", "staging", "prod")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ---------------------------------------------------------------------------- tables
@pytest.mark.parametrize("stack", STACKS)
def test_tables_have_the_catalogue_keys_ttl_and_gsis_on_demand_with_pitr(stack: str) -> None:
    graph = built(stack)
    for spec in TOPOLOGY.tables:
        t = graph.one("aws:dynamodb/table:Table", name=spec.name).inputs
        assert t["billingMode"] == "PAY_PER_REQUEST"
        assert t["hashKey"] == spec.hash_key and t.get("rangeKey") == spec.range_key
        assert {(a["name"], a["type"]) for a in t["attributes"]} == set(spec.attributes.items())
        assert t["pointInTimeRecovery"] == {"enabled": True}
        assert t["serverSideEncryption"]["enabled"] is True
        if spec.ttl_attribute:
            assert t["ttl"] == {"attributeName": spec.ttl_attribute, "enabled": True}
        else:
            assert "ttl" not in t
        gsis = {
            g["name"]: ([k["attributeName"] for k in g["keySchemas"]], g["projectionType"])
            for g in t.get("globalSecondaryIndexes", [])
        }
        expected = {g.name: ([g.hash_key] + ([g.range_key] if g.range_key else []), "ALL") for g in spec.gsis}
        assert gsis == expected, spec.name
        assert t["deletionProtectionEnabled"] is (stack == "prod")


def test_the_lock_table_expires_by_ttl_and_the_entries_table_has_the_system_status_index() -> None:
    graph = built("dev")
    assert (
        graph.one("aws:dynamodb/table:Table", name="anime-processing-locks").inputs["ttl"]["attributeName"]
        == "ttl"
    )
    entries = graph.one("aws:dynamodb/table:Table", name="anime-enriched-data").inputs
    assert [g["name"] for g in entries["globalSecondaryIndexes"]] == ["system_status-index"]


# ---------------------------------------------------------------------------- queues and topics
@pytest.mark.parametrize("stack", STACKS)
def test_every_work_queue_redrives_to_its_own_dlq_with_the_catalogue_receive_count(stack: str) -> None:
    graph = built(stack)
    queues = {q.inputs["name"]: q for q in graph.of_type("aws:sqs/queue:Queue")}
    allow = {r.inputs["queueUrl"]: json.loads(r.inputs["redriveAllowPolicy"])
             for r in graph.of_type("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy")}  # fmt: skip
    for spec in TOPOLOGY.queues:
        q = queues[spec.name].inputs
        assert q["visibilityTimeoutSeconds"] == spec.visibility_timeout_s
        assert q["messageRetentionSeconds"] == spec.retention_s
        assert q["sqsManagedSseEnabled"] is True
        if not spec.dlq_name:
            assert "redrivePolicy" not in q, f"{spec.name} is itself a failure queue"
            continue
        dlq = queues[spec.dlq_name]
        redrive = json.loads(q["redrivePolicy"])
        assert redrive == {"deadLetterTargetArn": dlq.state["arn"], "maxReceiveCount": spec.max_receive_count}
        assert dlq.inputs["messageRetentionSeconds"] == TOPOLOGY.dlq_retention_s
        assert dlq.inputs["sqsManagedSseEnabled"] is True
        assert allow[dlq.id] == {
            "redrivePermission": "byQueue",
            "sourceQueueArns": [queues[spec.name].state["arn"]],
        }
    assert len(allow) == sum(1 for q in TOPOLOGY.queues if q.dlq_name)


def test_topics_are_encrypted_and_deliver_only_to_their_subscribed_queues() -> None:
    graph = built("dev")
    topics = {t.inputs["name"]: t for t in graph.of_type("aws:sns/topic:Topic")}
    queues = {q.inputs["name"]: q for q in graph.of_type("aws:sqs/queue:Queue")}
    policies = {
        p.inputs["queueUrl"]: json.loads(p.inputs["policy"])
        for p in graph.of_type("aws:sqs/queuePolicy:QueuePolicy")
    }
    for spec in TOPOLOGY.topics:
        assert topics[spec.name].inputs["kmsMasterKeyId"] == "alias/aws/sns"
    for name, queue in queues.items():
        statements = {s["Sid"]: s for s in policies[queue.id]["Statement"]}
        assert statements["TlsOnly"]["Effect"] == "Deny"
        sources = sorted(topics[s.topic].state["arn"] for s in TOPOLOGY.subscriptions if s.queue == name)
        if sources:
            allow = statements["FromSubscribedTopics"]
            assert (
                allow["Principal"] == {"Service": "sns.amazonaws.com"}
                and allow["Action"] == "sqs:SendMessage"
            )
            assert sorted(allow["Condition"]["ArnEquals"]["aws:SourceArn"]) == sources
        else:
            assert "FromSubscribedTopics" not in statements, f"nothing publishes to {name} through SNS"
    for sub in graph.of_type("aws:sns/topicSubscription:TopicSubscription"):
        if sub.inputs["protocol"] == "sqs":
            spec = next(s for s in TOPOLOGY.subscriptions if sub.inputs["endpoint"].endswith(":" + s.queue))
            assert sub.inputs["rawMessageDelivery"] is spec.raw_delivery


def test_every_dlq_has_an_alarm_to_the_alerts_topic() -> None:
    graph = built("staging")
    alerts = graph.one("aws:sns/topic:Topic", name="avs-staging-alerts").state["arn"]
    alarms = {
        a.inputs["dimensions"]["QueueName"]: a.inputs
        for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == {q.dlq_name for q in TOPOLOGY.queues if q.dlq_name}
    for alarm in alarms.values():
        assert alarm["metricName"] == "ApproximateNumberOfMessagesVisible" and alarm["threshold"] == 0
        assert alarm["alarmActions"] == [alerts]


# ---------------------------------------------------------------------------- bucket and CDN
@pytest.mark.parametrize("stack", STACKS)
def test_the_bucket_is_private_versioned_encrypted_and_expires_staging(stack: str) -> None:
    graph = built(stack)
    bucket = graph.one("aws:s3/bucket:Bucket")
    on_bucket = lambda token: graph.one(token, bucket=bucket.id).inputs  # noqa: E731
    assert (
        on_bucket("aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"]["status"]
        == "Enabled"
    )
    (rule,) = on_bucket(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    block = on_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block[k]
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    rules = {
        r["id"]: r
        for r in on_bucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["rules"]
    }
    for spec in TOPOLOGY.bucket.lifecycle:
        assert rules[spec.id]["filter"] == {"prefix": spec.prefix}
        assert rules[spec.id]["expiration"]["days"] == spec.expire_days
        assert rules[spec.id]["status"] == "Enabled"


def test_cloudfront_serves_images_over_https_only_through_origin_access_control() -> None:
    graph = built("prod")
    dist = graph.one("aws:cloudfront/distribution:Distribution")
    behaviours = [dist.inputs["defaultCacheBehavior"], *dist.inputs["orderedCacheBehaviors"]]
    assert {b["viewerProtocolPolicy"] for b in behaviours} == {"redirect-to-https"}
    assert [b["pathPattern"] for b in dist.inputs["orderedCacheBehaviors"]] == [f"{IMAGES_PREFIX}*"]
    assert all(set(b["allowedMethods"]) == {"GET", "HEAD"} for b in behaviours)
    (origin,) = dist.inputs["origins"]
    oac = graph.one("aws:cloudfront/originAccessControl:OriginAccessControl")
    assert origin["originAccessControlId"] == oac.id
    assert oac.inputs["signingBehavior"] == "always" and oac.inputs["signingProtocol"] == "sigv4"
    bucket = graph.one("aws:s3/bucket:Bucket")
    assert origin["domainName"] == bucket.state["bucketRegionalDomainName"]
    policy = json.loads(graph.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    read = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"} and read["Action"] == "s3:GetObject"
    assert read["Resource"] == f"{bucket.state['arn']}/{IMAGES_PREFIX}*", "images/ only"
    assert read["Condition"]["StringEquals"]["AWS:SourceArn"] == dist.state["arn"]
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
