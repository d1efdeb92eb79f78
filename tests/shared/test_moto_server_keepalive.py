"""The moto server of the embedded stack over HTTP/1.1 keep-alive.

``avs_shared.embedded.moto_server`` serves moto's app with its own keep-alive handler
(framing, draining of unread bodies) and memoises two of moto's per-request lookups.
These tests talk to the real server the suite started: over one raw connection (what
a pooled client does), with long polls holding connections open (what the worker
runtime does), with bodies large, chunked and unread, and across services on one
server (what the dispatcher memo must keep apart).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from moto_tables import ensure_table

from avs_shared.adapters.aws import AwsClients
from avs_shared.embedded.processes import MotoServer, free_port, port_open

TABLE = "moto-keepalive-items"
BUCKET = "moto-keepalive-bucket"


@pytest.fixture
def local_moto(moto_server: MotoServer) -> MotoServer:
    if not isinstance(moto_server, MotoServer):
        pytest.skip("an external AWS endpoint is in use (AVS_TEST_EXTERNAL_AWS)")
    return moto_server


def _connection(server: MotoServer) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.connect()
    return conn


def _ask(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def test_requests_share_one_connection(local_moto: MotoServer) -> None:
    conn = _connection(local_moto)
    assert conn.sock is not None
    local = conn.sock.getsockname()
    first, first_body = _ask(conn, "GET", "/moto-api/data.json")
    second, second_body = _ask(conn, "GET", "/moto-api/data.json")
    assert first.status == second.status == 200
    assert json.loads(first_body) == json.loads(second_body)
    assert first.getheader("Connection") is None and not first.will_close
    # http.client reconnects silently after a close: the same socket proves reuse.
    assert conn.sock is not None and conn.sock.getsockname() == local
    conn.close()


def test_an_unread_body_does_not_spill_into_the_next_request(local_moto: MotoServer) -> None:
    conn = _connection(local_moto)
    assert conn.sock is not None
    local = conn.sock.getsockname()
    # moto's data view never reads a request body; 300 KB of it stays on the socket.
    unread, _ = _ask(conn, "GET", "/moto-api/data.json", body=b"GET /x HTTP/1.1\r\n" * 20_000)
    assert unread.status == 200
    after, after_body = _ask(conn, "POST", "/moto-api/reset", body=b"")
    assert after.status == 200 and json.loads(after_body) == {"status": "ok"}
    assert conn.sock is not None and conn.sock.getsockname() == local
    conn.close()


def test_head_answers_without_a_body(local_moto: MotoServer) -> None:
    conn = _connection(local_moto)
    head, head_body = _ask(conn, "HEAD", "/moto-api/data.json")
    assert head.status == 200 and head_body == b""
    assert int(head.getheader("Content-Length", "0")) > 0  # the length a GET would have
    # Had the server sent a body after the HEAD, this response would start inside it.
    get, get_body = _ask(conn, "GET", "/moto-api/data.json")
    assert get.status == 200 and len(get_body) == int(head.getheader("Content-Length", "0"))
    conn.close()


def test_a_chunked_upload_is_stored_whole(local_moto: MotoServer) -> None:
    conn = _connection(local_moto)
    key = f"/{BUCKET}-chunked/{uuid.uuid4().hex}"
    created, _ = _ask(conn, "PUT", f"/{BUCKET}-chunked")
    assert created.status == 200
    parts = [os.urandom(70_000) for _ in range(5)]
    # Unsigned: moto lets anyone read an object stored public-read.
    conn.request("PUT", key, body=iter(parts), headers={"x-amz-acl": "public-read"}, encode_chunked=True)
    stored = conn.getresponse()
    stored.read()
    assert stored.status == 200
    # The server may close after a chunked request; http.client then reconnects.
    fetched, fetched_body = _ask(conn, "GET", key)
    assert fetched.status == 200, fetched_body[:300]
    assert fetched_body == b"".join(parts)
    conn.close()


async def test_long_polls_do_not_hold_up_other_calls(local_moto: MotoServer, aws: AwsClients) -> None:
    sqs = await aws.client("sqs")
    ddb = await aws.client("dynamodb")
    url = (await sqs.create_queue(QueueName=f"moto-keepalive-{uuid.uuid4().hex[:8]}"))["QueueUrl"]
    await ensure_table(aws, TABLE)
    await ddb.put_item(TableName=TABLE, Item={"k": {"S": "during"}, "v": {"S": "polled"}})

    polls = [
        asyncio.create_task(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=8, MaxNumberOfMessages=1))
        for _ in range(24)  # more than any fixed pool would hold
    ]
    await asyncio.sleep(0.5)  # let every poll reach the server (only weakens the check if short)
    got = await ddb.get_item(TableName=TABLE, Key={"k": {"S": "during"}}, ConsistentRead=True)
    assert got["Item"]["v"] == {"S": "polled"}
    assert not any(poll.done() for poll in polls), "a long poll ended before the 8 s wait"
    # The polls were live on the server: a message sent now ends one of them early.
    await sqs.send_message(QueueUrl=url, MessageBody="wake")
    results = await asyncio.gather(*polls)
    bodies = [m["Body"] for r in results for m in r.get("Messages", [])]
    assert bodies == ["wake"]
    await sqs.delete_queue(QueueUrl=url)


async def test_large_objects_and_head_round_trip(local_moto: MotoServer, aws: AwsClients) -> None:
    s3 = await aws.client("s3")
    await _bucket(aws, BUCKET)
    blob = os.urandom(1_500_000)
    await s3.put_object(Bucket=BUCKET, Key="big", Body=blob)
    head = await s3.head_object(Bucket=BUCKET, Key="big")
    assert head["ContentLength"] == len(blob)
    got = await s3.get_object(Bucket=BUCKET, Key="big")
    async with got["Body"] as stream:
        assert await stream.read() == blob
    with pytest.raises(ClientError) as missing:
        await s3.head_object(Bucket=BUCKET, Key="absent")
    assert missing.value.response["Error"]["Code"] == "404"


async def test_services_alternate_on_one_server(local_moto: MotoServer, aws: AwsClients) -> None:
    # The dispatcher memo keys on the host moto builds per request; alternating
    # services must each still reach their own backend.
    ddb, s3, sqs = await aws.client("dynamodb"), await aws.client("s3"), await aws.client("sqs")
    await ensure_table(aws, TABLE)
    await _bucket(aws, BUCKET)
    url = (await sqs.create_queue(QueueName=f"moto-alternate-{uuid.uuid4().hex[:8]}"))["QueueUrl"]
    for round_ in range(3):
        await ddb.put_item(TableName=TABLE, Item={"k": {"S": f"alt{round_}"}})
        await s3.put_object(Bucket=BUCKET, Key=f"alt{round_}", Body=b"%d" % round_)
        await sqs.send_message(QueueUrl=url, MessageBody=f"alt{round_}")
        item = await ddb.get_item(TableName=TABLE, Key={"k": {"S": f"alt{round_}"}}, ConsistentRead=True)
        assert item["Item"]["k"] == {"S": f"alt{round_}"}
        obj = await s3.get_object(Bucket=BUCKET, Key=f"alt{round_}")
        async with obj["Body"] as stream:
            assert await stream.read() == b"%d" % round_
    attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "3"


async def test_moto_api_reset_and_config_still_route(local_moto: MotoServer, aws: AwsClients) -> None:
    ddb = await aws.client("dynamodb")
    await ensure_table(aws, TABLE)
    local_moto.reset()  # /moto-api/reset, then /moto-api/config
    with pytest.raises(ClientError) as gone:
        await ddb.describe_table(TableName=TABLE)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    conn = _connection(local_moto)
    headers = {"Content-Type": "application/json"}
    for use_docker in (False, True):  # flip one setting moto reports back, then restore it
        body = json.dumps({"lambda": {"use_docker": use_docker}}).encode()
        answered, answer = _ask(conn, "POST", "/moto-api/config", body, headers)
        assert answered.status == 201
        assert json.loads(answer)["lambda"]["use_docker"] is use_docker
    conn.close()


def test_memos_answer_as_moto_does() -> None:
    # In a fresh interpreter: moto's own answers first, then the memoised ones, twice.
    code = """
import json
from moto.core import responses
from moto.dynamodb.responses import DynamoHandler
from moto.s3.responses import S3Response
from moto.sqs.responses import SQSResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from avs_shared.embedded.moto_server import apply_patches

hosts = ["dynamodb", "s3.us-east-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com", "moto_api",
         "states.us-east-1.amazonaws.com", "bucket.s3.amazonaws.com", "nothing.example"]
classes = [DynamoHandler, S3Response, SQSResponse]
def answers():
    app = DomainDispatcherApplication(create_backend_app)
    return ([[app.get_backend_for_host(h) for h in hosts] for _ in range(2)],
            [[sorted(responses.method_names_from_class(c)) for c in classes] for _ in range(2)])
before = answers()
assert apply_patches() == {}
after = answers()
print(json.dumps(before == after), json.dumps(after[0][0]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    same, backends = out.stdout.split(" ", 1)
    assert same == "true", out.stdout + out.stderr
    assert json.loads(backends)[:4] == ["dynamodb", "s3", "sqs", "moto_api"]


def test_sigterm_ends_the_server_cleanly() -> None:
    port = free_port()
    env = {**os.environ, "MOTO_PORT": str(port)}
    argv = [sys.executable, "-m", "avs_shared.embedded.moto_server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert port_open("127.0.0.1", port), "the server did not listen"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _bucket(aws: AwsClients, name: str) -> None:
    s3 = await aws.client("s3")
    try:
        await s3.create_bucket(Bucket=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
