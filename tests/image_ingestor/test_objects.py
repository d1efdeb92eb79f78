"""Image objects are written once: a conditional PUT on moto, and HEAD + PUT behind an endpoint
that does not implement conditional writes (a loopback proxy in front of moto answering 501)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
import structlog
from aiohttp import web
from image_testkit import jpeg

from avs_image_ingestor.objects import ImageObjects
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.embedded.processes import free_port
from avs_shared.settings import ServiceSettings

KEY = "images/" + "ab" * 32 + ".jpg"
NOT_IMPLEMENTED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NotImplemented</Code>'
    "<Message>A header you provided implies functionality that is not implemented</Message>"
    "<Header>If-None-Match</Header></Error>"
)
_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "content-encoding"})


class NoConditionsProxy:
    """Forwards every request to moto, except conditional PUTs: those get 501 NotImplemented,
    as from an S3-compatible store without conditional writes. Counts what it sees."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = free_port()
        self.seen: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "PUT" and "If-None-Match" in request.headers:
            self.seen["refused conditional PUT"] += 1
            return web.Response(status=501, body=NOT_IMPLEMENTED.encode(), content_type="application/xml")
        self.seen[request.method] += 1
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._http.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body
        ) as resp:
            payload = await resp.read()
            out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
            return web.Response(status=resp.status, headers=out, body=payload)

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()


@pytest.fixture
async def proxied_aws(
    provisioned: Provisioner, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[AwsClients, NoConditionsProxy]]:
    proxy = NoConditionsProxy(os.environ["AWS_ENDPOINT_URL"])
    await proxy.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)  # read by botocore when the client is made
    aws = AwsClients(settings)
    try:
        await aws.client("s3")
        monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
        yield aws, proxy
    finally:
        await aws.close()
        await proxy.close()


async def test_a_conditional_put_stores_an_object_once(provisioned: Provisioner, aws: AwsClients) -> None:
    objects = ImageObjects(aws)

    first = await objects.put_new(
        KEY, jpeg(1), content_type="image/jpeg", metadata={"source_url": "https://a.example/1.jpg"}
    )
    second = await objects.put_new(
        KEY, jpeg(1), content_type="image/jpeg", metadata={"source_url": "https://b.example/1.jpg"}
    )

    assert (first, second) == (True, False)
    assert objects.conditional, "moto implements If-None-Match on PutObject"
    stored = await S3ObjectStore(aws).get(KEY)
    assert stored.body == jpeg(1) and stored.content_type == "image/jpeg"
    assert stored.metadata == {"source_url": "https://a.example/1.jpg"}, "the first writer's object stays"


async def test_head_then_put_where_conditional_writes_are_not_implemented(
    proxied_aws: tuple[AwsClients, NoConditionsProxy],
) -> None:
    aws, proxy = proxied_aws
    objects = ImageObjects(aws)

    with structlog.testing.capture_logs() as logs:
        first = await objects.put_new(KEY, jpeg(2), content_type="image/jpeg", metadata={"source_url": "a"})
        second = await objects.put_new(KEY, jpeg(2), content_type="image/jpeg", metadata={"source_url": "b"})
        other = await objects.put_new(
            KEY.replace("ab", "cd"), jpeg(3), content_type="image/jpeg", metadata={"source_url": "c"}
        )

    assert (first, second, other) == (True, False, True)
    assert not objects.conditional
    assert proxy.seen == {"refused conditional PUT": 1, "HEAD": 3, "PUT": 2}, "refused once, then HEAD + PUT"
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["s3.conditional_put_unsupported"]
    stored = await S3ObjectStore(aws).get(KEY)
    assert stored.body == jpeg(2) and stored.metadata == {"source_url": "a"}


async def test_head_then_put_when_asked(provisioned: Provisioner, aws: AwsClients) -> None:
    objects = ImageObjects(aws, conditional=False)

    assert await objects.put_new(KEY, jpeg(4), content_type="image/jpeg", metadata={}) is True
    assert await objects.put_new(KEY, jpeg(4), content_type="image/jpeg", metadata={}) is False
    assert await objects.exists(KEY) and not await objects.exists(KEY.replace("ab", "ef"))
