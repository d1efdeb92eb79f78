"""The moto server of the embedded stack: its patches keep moto's behaviour.

``avs_shared.embedded.moto_server`` replaces moto's quadratic item-size check and
memoises SQS attribute-name conversion. These tests run against the moto server the
suite started (through that module) and check what a client sees: the same limit on
item size at the same total, the same items back, the same queue attributes.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.exceptions import ClientError
from moto_tables import ensure_table

from avs_shared.adapters.aws import AwsClients
from avs_shared.embedded.moto_server import ITEM_SIZE_LIMIT, PATCHES
from avs_shared.embedded.processes import MotoServer

TABLE = "moto-patch-items"


def test_every_patch_applies_to_the_installed_moto() -> None:
    # In a fresh interpreter, so this process's moto stays as it is.
    code = "from avs_shared.embedded.moto_server import apply_patches; print(apply_patches())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "{}", out.stdout + out.stderr
    assert set(PATCHES) == {
        "dynamodb-item-size",
        "sqs-attribute-names",
        "dynamodb-attribute-values",
        "sqs-message-counts",
        "dispatcher-backend-memo",
        "response-method-names-memo",
    }


def test_the_server_is_started_through_the_patching_module(moto_server: MotoServer) -> None:
    if not isinstance(moto_server, MotoServer):
        pytest.skip("an external AWS endpoint is in use (AVS_TEST_EXTERNAL_AWS)")
    pid = moto_server.recorded_pid()
    assert pid is not None
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        argv = fh.read().split(b"\0")
    assert b"avs_shared.embedded.moto_server" in argv


def _item(key: str, attrs: int, value_bytes: int) -> dict[str, dict[str, object]]:
    """``attrs`` string attributes ``a000``.. of ``value_bytes`` each, plus nested maps and lists."""
    item: dict[str, dict[str, object]] = {"k": {"S": key}}
    for i in range(attrs):
        item[f"a{i:03d}"] = {"S": "x" * value_bytes}
    item["nested"] = {"M": {"list": {"L": [{"N": str(n)} for n in range(50)]}, "flag": {"BOOL": True}}}
    return item


def _size(item: dict[str, dict[str, object]]) -> int:
    """The item's size as moto counts it: name bytes plus value bytes (numbers as text)."""
    total = 0
    for name, value in item.items():
        total += len(name.encode())
        if "S" in value:
            total += len(str(value["S"]).encode())
    total += len("list") + len("flag") + 1 + sum(len(str(n)) for n in range(50))
    return total


async def test_items_under_the_limit_round_trip(moto_server: MotoServer, aws: AwsClients) -> None:
    await ensure_table(aws, TABLE)
    ddb = await aws.client("dynamodb")
    item = _item("small", 40, 1_000)
    await ddb.put_item(TableName=TABLE, Item=item)
    await ddb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": _item("batched", 40, 1_000)}}]})

    got = (await ddb.get_item(TableName=TABLE, Key={"k": {"S": "small"}}, ConsistentRead=True))["Item"]
    assert got == item
    batched = (await ddb.get_item(TableName=TABLE, Key={"k": {"S": "batched"}}, ConsistentRead=True))["Item"]
    assert batched["a039"] == {"S": "x" * 1_000} and batched["nested"] == item["nested"]


async def test_the_item_size_limit_is_where_moto_puts_it(moto_server: MotoServer, aws: AwsClients) -> None:
    await ensure_table(aws, TABLE)
    ddb = await aws.client("dynamodb")
    base = _item("edge", 0, 0)
    room = ITEM_SIZE_LIMIT - _size(base)
    name = "big"  # one attribute filling the item to exactly the limit, then one byte more
    fits = {**base, name: {"S": "y" * (room - len(name))}}
    over = {**base, name: {"S": "y" * (room - len(name) + 1)}}
    assert _size(fits) == ITEM_SIZE_LIMIT

    await ddb.put_item(TableName=TABLE, Item=fits)
    with pytest.raises(ClientError) as caught:
        await ddb.put_item(TableName=TABLE, Item=over)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "size" in caught.value.response["Error"]["Message"].lower()

    # Spread over many attributes (the case the patch changes), the same total is refused.
    many = _item("many", 100, (ITEM_SIZE_LIMIT // 100) + 10)
    with pytest.raises(ClientError) as caught_many:
        await ddb.put_item(TableName=TABLE, Item=many)
    assert caught_many.value.response["Error"]["Code"] == "ValidationException"
    stored = await ddb.get_item(TableName=TABLE, Key={"k": {"S": "many"}}, ConsistentRead=True)
    assert "Item" not in stored  # nothing half-written


async def test_queue_attributes_are_unchanged(moto_server: MotoServer, aws: AwsClients) -> None:
    sqs = await aws.client("sqs")
    url = (
        await sqs.create_queue(
            QueueName="moto-patch-q.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "17"},
        )
    )["QueueUrl"]
    # Content-based deduplication reads the attribute on every send: a duplicate body is dropped.
    for _ in range(2):
        await sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    attrs = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "1"
    assert attrs["ContentBasedDeduplication"] == "true"
    assert attrs["VisibilityTimeout"] == "17"
    assert attrs["FifoQueue"] == "true"
    await sqs.delete_queue(QueueUrl=url)


async def test_every_attribute_type_round_trips(moto_server: MotoServer, aws: AwsClients) -> None:
    # Binary values (and sets of them) take moto's own parser; the rest the direct copy.
    await ensure_table(aws, TABLE)
    ddb = await aws.client("dynamodb")
    item = {
        "k": {"S": "types"},
        "s": {"S": "text"},
        "n": {"N": "8.78"},
        "b": {"B": b"\x00\xffbytes"},
        "bs": {"BS": [b"a", b"b"]},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2.5"]},
        "t": {"BOOL": True},
        "z": {"NULL": True},
        "m": {"M": {"inner": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"BOOL": False}}}]}}},
        "mb": {"M": {"blob": {"B": b"in a map"}}},
    }
    await ddb.put_item(TableName=TABLE, Item=item)
    got = (await ddb.get_item(TableName=TABLE, Key={"k": {"S": "types"}}, ConsistentRead=True))["Item"]
    assert got["b"] == {"B": b"\x00\xffbytes"} and got["mb"] == {"M": {"blob": {"B": b"in a map"}}}
    assert sorted(got["bs"]["BS"]) == [b"a", b"b"]
    assert sorted(got["ss"]["SS"]) == ["x", "y"] and sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert {k: v for k, v in got.items() if k not in ("b", "bs", "ss", "ns", "mb")} == {
        k: v for k, v in item.items() if k not in ("b", "bs", "ss", "ns", "mb")
    }
    # A condition on a nested value is evaluated against what was parsed.
    with pytest.raises(ClientError) as caught:
        await ddb.put_item(
            TableName=TABLE,
            Item=item,
            ConditionExpression="m.#i[2].deep = :v",
            ExpressionAttributeNames={"#i": "inner"},
            ExpressionAttributeValues={":v": {"BOOL": True}},
        )
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


async def test_message_counts_by_state(moto_server: MotoServer, aws: AwsClients) -> None:
    sqs = await aws.client("sqs")
    url = (await sqs.create_queue(QueueName="moto-patch-counts"))["QueueUrl"]
    for n in range(5):
        await sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    await sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    got = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    assert len(got["Messages"]) == 2

    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attrs = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names))["Attributes"]
    # 3 visible; 2 in flight; 1 delayed (a delayed message is not visible either).
    assert attrs == {
        "ApproximateNumberOfMessages": "3",
        "ApproximateNumberOfMessagesNotVisible": "2",
        "ApproximateNumberOfMessagesDelayed": "1",
    }
    await sqs.delete_queue(QueueUrl=url)
