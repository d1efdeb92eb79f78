"""Codec items skip botocore's per-value serialisation and still reach DynamoDB unchanged."""

from __future__ import annotations

import json
from typing import Any

import botocore.config
import botocore.session
import pytest

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_codec import from_item, to_item
from avs_shared.adapters.dynamo_overflow import plan_overflow
from avs_shared.adapters.dynamo_wire import WireItem, install

DOC: dict[str, Any] = {
    "id": "wire-1",
    "title": 'Ünïcode "quoted" title',
    "episodes": 12,
    "score": 8.78,
    "nsfw": False,
    "orphaned_at": None,
    "genres": ["Action", "Drama"],
    "statistics": {"mal": {"score": 8.5, "members": 120_000}},
    "episode_details": [
        {"episode_number": n, "title": f"Ep {n}", "filler": n % 2 == 0} for n in range(1, 40)
    ],
}


def _client() -> Any:
    session = botocore.session.get_session()
    config = botocore.config.Config(parameter_validation=False)
    return session.create_client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", config=config
    )


def _body(client: Any, item: Any) -> dict[str, Any]:
    op = client.meta.service_model.operation_model("BatchWriteItem")
    params = {"RequestItems": {"t": [{"PutRequest": {"Item": item}}]}}
    request = client._serializer.serialize_to_request(params, op)
    return json.loads(request["body"])  # type: ignore[no-any-return]


def test_a_wire_item_serialises_exactly_as_botocore_would() -> None:
    item = to_item(DOC)
    assert type(item) is WireItem
    plain = _client()
    fast = _client()
    assert install(fast) is True
    assert install(fast) is True, "installing twice is harmless"

    assert _body(fast, item) == _body(plain, dict(item))
    # A plain dict (not from the codec) still goes through botocore's own path.
    assert _body(fast, dict(item)) == _body(plain, dict(item))


def test_a_wire_item_holding_bytes_fails_loudly_instead_of_sending_garbage() -> None:
    client = _client()
    install(client)
    bad = WireItem({"k": {"B": b"\x00\x01"}})
    with pytest.raises(TypeError, match="bytes"):
        _body(client, bad)


def test_install_leaves_other_serialisers_alone() -> None:
    session = botocore.session.get_session()
    s3 = session.create_client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    before = s3._serializer
    assert install(s3) is False
    assert s3._serializer is before


def test_the_json_size_bound_never_skips_an_item_that_needs_overflow() -> None:
    item = to_item({**DOC, "big": "x" * 5_000})
    exact_json = len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode())
    # Just over the threshold by the JSON measure but under it by DynamoDB's: the exact
    # size decides (nothing moves); under both: nothing moves without the exact walk.
    assert plan_overflow("wire-1", item, exact_json - 1) == []
    assert plan_overflow("wire-1", item, exact_json + 1) == []
    # Well under the item's DynamoDB size: fields move, the bound did not hide it.
    assert plan_overflow("wire-1", item, 3_000)[0] in ("episode_details", "big")


async def test_written_through_the_shared_client_the_item_reads_back_equal(
    moto_server: Any, aws: AwsClients
) -> None:
    ddb = await aws.client("dynamodb")
    name = "wire-items"
    try:
        await ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ddb.exceptions.ResourceInUseException:
        pass
    await ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": to_item(DOC)}}]})
    await ddb.put_item(TableName=name, Item=to_item({**DOC, "id": "wire-2"}))

    for key in ("wire-1", "wire-2"):
        got = (await ddb.get_item(TableName=name, Key={"id": {"S": key}}, ConsistentRead=True))["Item"]
        assert from_item(got) == {**DOC, "id": key}
