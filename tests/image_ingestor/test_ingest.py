"""The ingestor against loopback image servers, moto and redis: downloads, dedup, retries,
refusals and failure records."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from aiohttp import web
from image_testkit import (
    FakeClock,
    ImageServer,
    IngestorKit,
    MakeKit,
    failure_records,
    image_keys,
    jpeg,
    never_answer,
    png,
)

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_image_map import url_hash
from avs_shared.events import ImageRequested, RequestedImage
from avs_shared.events.failures import RETRY_FAILED
from avs_shared.topology import BUCKET


def request(anime_id: str, *urls: str, **context: Any) -> ImageRequested:
    return ImageRequested(
        anime_id=anime_id, images=[RequestedImage(url=u, kind="cover", context=dict(context)) for u in urls]
    )


async def test_a_normal_image_is_stored_by_content_hash_with_its_metadata(
    kit: IngestorKit, image_server: ImageServer, aws: AwsClients
) -> None:
    body = png(1)
    url = image_server.image("/a/cover.png", body, "image/png")

    report = await kit.ingestor.ingest(request("anime-1", url))

    [outcome] = report.outcomes
    assert outcome.action == "stored"
    key = f"images/{hashlib.sha256(body).hexdigest()}.png"
    assert outcome.record is not None and outcome.record.key == key
    stored = await kit.objects.get(key)
    assert stored.body == body and stored.content_type == "image/png"
    assert stored.metadata == {"source_url": url, "content_type": "image/png"}
    record = await kit.images.lookup(url)
    assert record is not None and (record.status, record.key) == ("STORED", key)
    assert kit.images.replacement(record) == f"https://{kit.settings.cdn_domain}/{key}"
    assert report.entry_version is None, "no entry committed yet: nothing to update"
    assert image_server.hits["/a/cover.png"] == 1


async def test_the_same_url_requested_twice_is_downloaded_once(
    make: MakeKit, image_server: ImageServer
) -> None:
    url = image_server.image("/shared.png", png(2))
    kit = make()
    first = await kit.ingestor.ingest(request("anime-1", url, url))  # twice in one event, too
    second = await kit.ingestor.ingest(request("anime-2", url))
    # Another process (no memory of this one) finds it in the dedup map.
    third = await make().ingestor.ingest(request("anime-3", url))
    assert [o.action for o in first.outcomes] == ["stored"]
    assert [o.action for o in second.outcomes] == ["reused"]
    assert [o.action for o in third.outcomes] == ["reused"]
    assert image_server.hits["/shared.png"] == 1


async def test_concurrent_requests_for_one_url_share_one_download(
    kit: IngestorKit, image_server: ImageServer
) -> None:
    release, arrived = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await release.wait()
        return web.Response(body=png(3), content_type="image/png")

    url = image_server.route("/slow.png", slow)
    runs = [asyncio.create_task(kit.ingestor.ingest(request(f"anime-{i}", url))) for i in range(5)]
    await asyncio.wait_for(arrived.wait(), 10)
    await asyncio.sleep(1.0)  # let the other four reach the single flight
    release.set()
    reports = await asyncio.gather(*runs)
    actions = sorted(r.outcomes[0].action for r in reports)
    # The others wait for the download in flight (or, on a slow machine, find its result).
    assert actions.count("stored") == 1 and set(actions) - {"stored"} <= {"joined", "reused"}
    assert "joined" in actions
    assert len({r.outcomes[0].record.key for r in reports if r.outcomes[0].record}) == 1
    assert image_server.hits["/slow.png"] == 1


async def test_identical_bytes_under_two_urls_make_one_object_and_two_mappings(
    make: MakeKit, image_server: ImageServer, aws: AwsClients
) -> None:
    body = jpeg(4)
    a = image_server.image("/mal/1.jpg", body, "image/jpeg")
    b = image_server.image("/anilist/1.jpg", body, "image/jpeg")
    c = image_server.image("/kitsu/1.jpg", body, "image/jpeg")
    kit = make()

    report = await kit.ingestor.ingest(request("anime-1", a))
    report2 = await kit.ingestor.ingest(request("anime-2", b))  # this process knows the object
    report3 = await make().ingestor.ingest(request("anime-3", c))  # another finds it in S3

    assert report.outcomes[0].action == "stored"
    assert report2.outcomes[0].action == "deduplicated"
    assert report3.outcomes[0].action == "deduplicated"
    keys = await image_keys(aws, BUCKET)
    assert len(keys) == 1 and keys[0].endswith(".jpg")
    records = await kit.images.lookup_many([a, b, c])
    assert {records[a].key, records[b].key, records[c].key} == {keys[0]}
    assert (await kit.objects.get(keys[0])).metadata["source_url"] == a, "the object is written once"


async def test_a_server_failing_twice_then_succeeding_is_retried(
    kit: IngestorKit, image_server: ImageServer, aws: AwsClients
) -> None:
    calls = 0

    async def flaky(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls <= 2:
            return web.Response(status=503, text="busy")
        return web.Response(body=png(5), content_type="image/png")

    url = image_server.route("/flaky.png", flaky)
    report = await kit.ingestor.ingest(request("anime-1", url))
    assert report.outcomes[0].action == "stored"
    assert calls == 3
    assert await failure_records(aws) == []


async def test_a_server_that_never_answers_is_cut_at_the_deadline(
    make: MakeKit, image_server: ImageServer, aws: AwsClients
) -> None:
    # Each attempt alone could wait 30 s for a byte; the deadline ends the whole download.
    kit = make(image_download_deadline_seconds=1.0, image_attempt_timeout_seconds=30.0)
    url = image_server.route("/hang.png", never_answer)

    started = time.monotonic()
    report = await kit.ingestor.ingest(request("anime-1", url))
    elapsed = time.monotonic() - started

    assert report.outcomes[0].action == "failed"
    assert elapsed < 15, f"the 1 s deadline was not respected ({elapsed:.1f} s)"
    [failure] = await failure_records(aws)
    assert "deadline of 1 s" in failure.error_message
    assert failure.context["permanent"] is False


async def test_a_50_mb_body_is_refused_while_streaming(
    kit: IngestorKit, image_server: ImageServer, aws: AwsClients
) -> None:
    sent = {"bytes": 0, "finished": False}
    done = asyncio.Event()
    chunk = b"\xff\xd8\xff\xe0" + bytes(1024 * 1024 - 4)

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})  # no Content-Length
        await response.prepare(request)
        try:
            for _ in range(50):
                await response.write(chunk)
                sent["bytes"] += len(chunk)
            sent["finished"] = True
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            done.set()
        return response

    url = image_server.route("/huge.jpg", huge)
    report = await kit.ingestor.ingest(request("anime-1", url))
    await asyncio.wait_for(done.wait(), 30)

    assert report.outcomes[0].action == "failed"
    assert not sent["finished"], "the server could write all 50 MB: the client read it to the end"
    assert sent["bytes"] < 40 * 1024 * 1024
    [failure] = await failure_records(aws)
    assert "larger than the limit of 20971520 bytes" in failure.error_message
    assert failure.context["permanent"] is True and failure.context["attempts"] == 1
    assert await image_keys(aws, BUCKET) == []


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    kit: IngestorKit, image_server: ImageServer
) -> None:
    async def declared(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "image/png", "Content-Length": str(50 * 2**20)}
        )
        await response.prepare(request)
        await response.write(png(6))
        return response

    url = image_server.route("/declared.png", declared)
    report = await kit.ingestor.ingest(request("anime-1", url))
    record = report.outcomes[0].record
    assert record is not None and record.status == "DOWNLOAD_FAILED"
    assert "52428800 bytes, more than the limit" in (record.error_message or "")


async def test_html_served_as_image_jpeg_is_refused(
    kit: IngestorKit, image_server: ImageServer, aws: AwsClients
) -> None:
    url = image_server.image(
        "/login.jpg", b"<!doctype html><html><body>log in</body></html>" * 10, "image/jpeg"
    )
    svg = image_server.image(
        "/x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "image/svg+xml"
    )
    text = image_server.image("/x.png", png(7), "text/html")

    report = await kit.ingestor.ingest(request("anime-1", url, svg, text))

    assert [o.action for o in report.outcomes] == ["failed", "failed", "failed"]
    messages = {f.image_url: f.error_message for f in await failure_records(aws)}
    assert "not a JPEG, PNG, GIF, WebP or AVIF image" in messages[url] and "'<!doctype html>" in messages[url]
    assert "not a JPEG, PNG, GIF, WebP or AVIF image" in messages[svg]
    assert "the server says the content is text/html, not an image" in messages[text]
    assert image_server.hits["/login.jpg"] == 1, "a refused content is not retried"
    assert await image_keys(aws, BUCKET) == []


async def test_redirects_are_followed_and_checked_at_every_hop(
    make: MakeKit, image_server: ImageServer, aws: AwsClients
) -> None:
    final = image_server.image("/final.png", png(8))

    def redirect_to(target: str) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(target)

        return handler

    ok = image_server.route("/hop1", redirect_to("/final.png"))
    metadata = image_server.route("/to-metadata", redirect_to("http://169.254.169.254/latest/meta-data/"))
    loop = image_server.route("/loop", redirect_to("/loop"))
    # Even allowlisting the link-local range does not open the metadata address.
    kit = make(image_allowed_networks=["127.0.0.0/8", "169.254.0.0/16"], image_max_redirects=3)

    report = await kit.ingestor.ingest(request("anime-1", ok, metadata, loop))

    by_url = {o.url: o for o in report.outcomes}
    assert by_url[ok].action == "stored" and image_server.hits["/final.png"] == 1
    assert by_url[metadata].action == "failed" and by_url[loop].action == "failed"
    messages = {f.image_url: f.error_message for f in await failure_records(aws)}
    assert "169.254.169.254 is a cloud metadata address" in messages[metadata]
    assert "more than 3 redirects" in messages[loop]
    assert final not in messages


async def test_loopback_is_refused_without_the_allowlist_also_after_a_redirect_or_dns(
    make: MakeKit, aws: AwsClients
) -> None:
    # The server listens on 127.0.0.2, the only address allowlisted; 127.0.0.1 is not.
    server = ImageServer(host="127.0.0.2")
    await server.start()
    try:
        image = server.image("/ok.png", png(9))

        async def to_loopback(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(f"http://127.0.0.1:{server.port}/ok.png")

        async def to_localhost(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(f"http://localhost:{server.port}/ok.png")

        direct = server.route("/to-loopback", to_loopback)
        by_name = server.route("/to-localhost", to_localhost)
        kit = make(image_allowed_networks=["127.0.0.2/32"])
        report = await kit.ingestor.ingest(request("anime-1", image, direct, by_name))
        closed = await make(image_allowed_networks=[]).ingestor.ingest(
            request("anime-2", f"http://127.0.0.2:{server.port}/ok.png?again")
        )
    finally:
        await server.close()

    by_url = {o.url: o.action for o in report.outcomes}
    assert by_url == {image: "stored", direct: "failed", by_name: "failed"}
    assert [o.action for o in closed.outcomes] == ["failed"]
    messages = {f.image_url: f.error_message for f in await failure_records(aws)}
    assert "127.0.0.1 is a loopback address" in messages[direct]
    assert "refusing to connect to localhost" in messages[by_name] and "loopback" in messages[by_name]
    assert "127.0.0.2 is a loopback address" in messages[f"http://127.0.0.2:{server.port}/ok.png?again"]
    assert server.hits["/ok.png"] == 1, "refused targets are never contacted"


async def test_a_failure_is_recorded_skipped_before_its_retry_time_and_retried_after(
    make: MakeKit, image_server: ImageServer, aws: AwsClients, clock: FakeClock
) -> None:
    kit = make(image_failure_retry_after_seconds=3600, image_failure_ttl_seconds=30 * 86400)
    gone = True

    async def sometimes(request: web.Request) -> web.StreamResponse:
        if gone:
            return web.Response(status=404, text="gone")
        return web.Response(body=png(10), content_type="image/png")

    url = image_server.route("/maybe.png", sometimes)

    first = await kit.ingestor.ingest(request("anime-1", url, label="Bebop"))
    record = first.outcomes[0].record
    assert record is not None and record.status == "DOWNLOAD_FAILED"
    assert (record.retry_count, record.error_message) == (1, "HTTP 404 Not Found")
    assert record.last_attempt == int(clock.now) and record.ttl == int(clock.now) + 30 * 86400
    [failure] = await failure_records(aws)
    assert (failure.anime_id, failure.image_url, failure.retry_count) == ("anime-1", url, 0)
    assert failure.context["kind"] == "cover" and failure.context["request_context"] == {"label": "Bebop"}
    assert failure.context["source_url_hash"] == url_hash(url) and failure.timestamp.tzinfo is not None
    assert image_server.hits["/maybe.png"] == 1, "HTTP 404 is final: no retry in the round"

    gone = False
    clock.advance(3599)
    skipped = await make().ingestor.ingest(request("anime-2", url))
    assert [o.action for o in skipped.outcomes] == ["skipped"]
    assert image_server.hits["/maybe.png"] == 1
    assert await failure_records(aws) == [], "a skipped URL sends no new failure record"

    clock.advance(2)
    retried = await kit.ingestor.ingest(request("anime-2", url))
    assert [o.action for o in retried.outcomes] == ["stored"]
    assert image_server.hits["/maybe.png"] == 2
    assert (await kit.images.lookup(url)).status == "STORED"  # type: ignore[union-attr]


async def test_failed_rounds_back_off_and_a_replayed_request_retries_at_once(
    make: MakeKit, image_server: ImageServer, aws: AwsClients, clock: FakeClock
) -> None:
    kit = make(image_failure_retry_after_seconds=100, image_failure_retry_max_seconds=250)

    async def gone(request: web.Request) -> web.StreamResponse:
        return web.Response(status=410, text="gone for good")

    url = image_server.route("/broken.png", gone)

    await kit.ingestor.ingest(request("a", url))
    clock.advance(100)
    await kit.ingestor.ingest(request("a", url))  # second round: next wait 200 s
    record = await kit.images.lookup(url)
    assert record is not None and record.retry_count == 2
    clock.advance(199)
    assert not kit.ingestor.retry_due(record)
    clock.advance(1)
    assert kit.ingestor.retry_due(record)
    record3 = (await kit.ingestor.ingest(request("a", url))).outcomes[0].record
    assert record3 is not None and record3.retry_count == 3
    clock.advance(249)  # 400 s would be next, capped at 250
    assert not kit.ingestor.retry_due(record3)
    clock.advance(1)
    assert kit.ingestor.retry_due(record3)

    hits = image_server.hits["/broken.png"]
    forced = await kit.ingestor.ingest(
        ImageRequested(
            anime_id="a", images=[RequestedImage(url=url, kind="cover", context={RETRY_FAILED: True})]
        )
    )
    assert forced.outcomes[0].action == "failed" and image_server.hits["/broken.png"] == hits + 1
    clock.advance(40 * 86400)  # past the record's ttl: it counts as absent
    assert await kit.images.lookup(url) is None
    assert len(await failure_records(aws)) == 4


async def test_downloads_respect_the_per_host_limit(make: MakeKit, image_server: ImageServer) -> None:
    bodies = {f"/p{i}.png": png(100 + i) for i in range(12)}

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.05)
        return web.Response(body=bodies[request.path], content_type="image/png")

    urls = [image_server.route(path, slow) for path in bodies]
    kit = make(image_per_host_concurrency=2, image_global_concurrency=8)
    report = await kit.ingestor.ingest(request("anime-1", *urls))
    assert [o.action for o in report.outcomes] == ["stored"] * 12
    assert image_server.max_in_flight == 2
