"""Helpers of the end-to-end suite (imported by name: every test directory has a ``conftest``).

* :class:`ImageHost`: a loopback server that answers every path with a PNG of its own
  (distinct bytes per path), standing in for the image CDNs of the providers.
* :class:`LoopbackProviders`: the enricher's fake providers, with the image URLs of their
  answers moved onto the :class:`ImageHost`. AniDB and AnimeSchedule name their images by
  a file name that their clients join to a fixed public CDN (``IMAGE_BASE``), which a test
  may never reach: those references are left out of their answers.
* :data:`E2E_ANIME`: invented anime for the fakes, one per scenario, so scenarios sharing
  one running stack never touch each other's anime.
* :class:`OfflineSource`: the hand-written offline database file the sync reads.
* :class:`SwitchableTracerProvider`: the process's global tracer provider while this suite
  runs; a no-op (as without it) until a test points it at an SDK provider.
* :class:`Stack`: the running system (one worker with every service's handlers, the API)
  and what the tests look at.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import struct
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.util.types import Attributes

from avs_enricher.testing.catalogue import HARBOR, LANTERN, STARLIGHT, FakeAnime
from avs_enricher.testing.fake_providers import FakeProviders, Handler
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.embedded.processes import free_port
from avs_shared.identity import anime_id_for_sources
from avs_shared.ports.vector import VectorIndex
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.cron import CronJob
from avs_shared.runtime.worker import Worker
from avs_shared.schema import AnimeEntry, image_urls
from avs_shared.topology import S_WEEKLY_SYNC, T_LOCKS

REVIEWER_KEY = "avs_e2e-reviewer-key-0123456789abcdef"
CDN_DOMAIN = "cdn.e2e.test"
REVIEW_TIMEOUT_S = 20
"""The review timeout of the stack (``AVS_ENRICHER_REVIEW_TIMEOUT_SECONDS``): long enough for
a test to decide a review, short enough to wait for one to time out."""

OFFLINE_HEADER = {
    "$schema": "https://raw.githubusercontent.com/manami-project/anime-offline-database/master/schemas/x.json",
    "license": {"name": "ODbL-1.0", "url": "https://opendatacommons.org/licenses/odbl/1-0/"},
    "repository": "https://github.com/manami-project/anime-offline-database",
    "scoreRange": {"minInclusive": 1.0, "maxInclusive": 10.0},
    "lastUpdate": "2025-09-06",
}


async def eventually(check: Callable[[], Awaitable[Any]], *, within: float = 45.0, every: float = 0.2) -> Any:
    """The first truthy result of ``check()``; fails the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s ({check})")
        await asyncio.sleep(every)


# ------------------------------------------------------------------------------- the anime
def _variant(base: FakeAnime, key: str, n: int, title: str, english: str, japanese: str) -> FakeAnime:
    """``base`` under new names and provider ids (``n`` keeps them apart from every other anime)."""
    return replace(
        base,
        key=key,
        title=title,
        title_english=english,
        title_japanese=japanese,
        mal_id=base.mal_id and 95000 + n,
        anilist_id=base.anilist_id and 195000 + n,
        kitsu_id=base.kitsu_id and str(59000 + n),
        kitsu_slug=base.kitsu_slug and f"e2e-{key}",
        anidb_id=base.anidb_id and 29000 + n,
        schedule_route=base.schedule_route and f"e2e-{key}",
        synonyms=(),
    )


E2E_ANIME: dict[str, FakeAnime] = {
    a.key: a
    for a in (
        _variant(STARLIGHT, "approved", 1, "Kumoma Yuubin", "Cloudgap Post", "雲間郵便"),
        _variant(HARBOR, "rejected", 2, "Shiokaze Shoutengai", "Seabreeze Arcade", "潮風商店街"),
        _variant(LANTERN, "timed-out", 3, "Tsukiyo Ressha", "Moonlit Night Train", "月夜列車"),
        _variant(STARLIGHT, "announced-twice", 4, "Kazami Koubou", "Weathervane Workshop", "風見工房"),
        _variant(HARBOR, "outage", 5, "Yukiakari Toshokan", "Snowlight Library", "雪明かり図書館"),
        _variant(STARLIGHT, "traced", 6, "Hotaru Kairou", "Firefly Corridor", "蛍回廊"),
    )
}


def anime_id(anime: FakeAnime) -> str:
    """The id the sync gives a new anime with these sources."""
    return anime_id_for_sources(anime.sources())


# ------------------------------------------------------------------------------- images
def png(seed: str) -> bytes:
    """A valid 1x1 PNG whose pixel and text chunk depend on ``seed`` (distinct seeds, distinct bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    digest = hashlib.sha256(seed.encode()).digest()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", b"Comment\x00" + seed.encode()[:200])
        + chunk(b"IDAT", zlib.compress(b"\x00" + digest[:3]))
        + chunk(b"IEND", b"")
    )


class ImageHost:
    """Loopback HTTP: every path is an image (``png(path)``); counts requests per path."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.hits: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def body_of(self, url: str) -> bytes:
        """What this host answers for ``url`` (one of its own)."""
        if not url.startswith(self.base + "/"):
            raise ValueError(f"{url} is not served by {self.base}")
        return png(url.removeprefix(self.base).split("?")[0])

    def cdn_url(self, url: str) -> str:
        """Where the image ingestor re-hosts ``url``: ``https://<cdn>/images/<sha256 of the bytes>.png``."""
        return f"https://{CDN_DOMAIN}/images/{hashlib.sha256(self.body_of(url)).hexdigest()}.png"

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        return web.Response(body=png(request.path), content_type="image/png")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


_PROVIDER_IMAGE = re.compile(
    r"https://((?:cdn\.myanimelist\.net|s4\.anilist\.co|media\.kitsu\.app|img\.youtube\.com|i\.ytimg\.com)"
    r"/[^\s\"'<>\\]+)"
)
_ANIDB_PICTURE = re.compile(r"<picture>[^<]*</picture>")


class LoopbackProviders(FakeProviders):
    """The fake providers, their image URLs moved onto ``images`` (see the module docstring)."""

    def __init__(self, images: ImageHost, catalogue: dict[str, FakeAnime]) -> None:
        super().__init__(catalogue)
        self.images = images

    def loopback(self, text: str) -> str:
        """``text`` with every provider image URL pointed at the image host."""
        return _PROVIDER_IMAGE.sub(lambda m: f"{self.images.base}/{m.group(1)}", text)

    def _middleware(self, provider: str) -> Any:
        recording = super()._middleware(provider)

        @web.middleware
        async def rewrite(request: web.Request, handler: Handler) -> web.StreamResponse:
            response = await recording(request, handler)
            if not isinstance(response, web.Response) or response.status != 200 or response.body is None:
                return response
            text = response.text or ""
            if provider == "anidb":
                changed = _ANIDB_PICTURE.sub("", text)
            elif provider == "animeschedule":
                changed = json.dumps(_without(json.loads(text), "imageVersionRoute"), ensure_ascii=False)
            else:
                changed = self.loopback(text)
            if changed != text:
                response.text = changed
            return response

        return rewrite


def _without(doc: Any, key: str) -> Any:
    if isinstance(doc, dict):
        return {k: _without(v, key) for k, v in doc.items() if k != key}
    if isinstance(doc, list):
        return [_without(v, key) for v in doc]
    return doc


# ------------------------------------------------------------------------------- the source
class OfflineSource:
    """The offline database file the sync reads (``AVS_SYNC_SOURCE_URL``), in the source's
    minified JSON shape. Anime that went live stay in every later file, as in the real
    database; each sync adds the anime of one scenario."""

    def __init__(self, path: Path, providers: LoopbackProviders) -> None:
        self.path = path
        self._providers = providers
        self._kept: dict[str, dict[str, Any]] = {}

    def record(self, anime: FakeAnime) -> dict[str, Any]:
        """The anime's offline record; its picture is the (loopback) MyAnimeList cover."""
        record = anime.offline_record()
        record["picture"] = self._providers.loopback(record["picture"])
        record["thumbnail"] = self._providers.loopback(record["thumbnail"])
        return record

    def write(self, new: Iterable[FakeAnime]) -> None:
        data = [*self._kept.values(), *(self.record(a) for a in new)]
        self.path.write_text(
            json.dumps({**OFFLINE_HEADER, "data": data}, ensure_ascii=False), encoding="utf-8"
        )

    def keep(self, anime: FakeAnime) -> None:
        """``anime`` is live: later files list it too (unchanged, so no sync touches it)."""
        self._kept[anime.key] = self.record(anime)


# ------------------------------------------------------------------------------- tracing
class SwitchableTracerProvider(trace.TracerProvider):
    """A global tracer provider whose tracers follow :attr:`target` at every span.

    The global provider can be set only once per process, and tracers are taken from it
    once (at import or construction). This one is a no-op, exactly like the API's default,
    until a test sets :attr:`target` to an SDK provider; so no other test of the session
    sees a difference.
    """

    def __init__(self) -> None:
        self.target: trace.TracerProvider = trace.NoOpTracerProvider()

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> Tracer:
        return _SwitchedTracer(self, instrumenting_module_name, instrumenting_library_version, schema_url)


class _SwitchedTracer(Tracer):
    def __init__(
        self, provider: SwitchableTracerProvider, name: str, version: str | None, schema: str | None
    ):
        self._provider = provider
        self._args = (name, version, schema)

    def _current(self) -> Tracer:
        return self._provider.target.get_tracer(*self._args)

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Iterable[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        return self._current().start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )

    def start_as_current_span(  # type: ignore[override]  # returns the target's context manager
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Iterable[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Any:
        return self._current().start_as_current_span(
            name,
            context=context,
            kind=kind,
            attributes=attributes,
            links=links,
            start_time=start_time,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
            end_on_exit=end_on_exit,
        )


# ------------------------------------------------------------------------------- the stack
@dataclass
class Stack:
    """The running system: every service's handlers in one worker, the API, the fakes."""

    ctx: RunContext
    worker: Worker
    cron: dict[str, CronJob]
    client: httpx.AsyncClient
    aws: AwsClients
    entries: DynamoEntryStore
    objects: S3ObjectStore
    cache: RedisCache
    index: VectorIndex
    images: ImageHost
    providers: LoopbackProviders
    source: OfflineSource

    # ---------------------------------------------------------------- driving it
    async def sync(self, *new: FakeAnime) -> Any:
        """Write the offline file (the live anime and ``new``) and run the ``weekly-sync`` job,
        as the runner's cron fires it; returns the sync's summary."""
        self.source.write(new)
        return await self.cron[S_WEEKLY_SYNC](datetime.now(UTC))

    async def api(
        self, method: str, path: str, *, key: str | None = REVIEWER_KEY, **kwargs: Any
    ) -> httpx.Response:
        headers = {"X-API-Key": key} if key else {}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def tasks_of(self, anime: FakeAnime, status: str = "pending") -> list[dict[str, Any]]:
        """The review tasks of ``anime`` in ``status``, as ``GET /review/api/tasks`` lists them."""
        response = await self.api("GET", "/review/api/tasks", params={"status": status, "limit": 200})
        assert response.status_code == 200, response.text
        return [t for t in response.json()["tasks"] if t["anime_id"] == anime_id(anime)]

    async def review_task(self, anime: FakeAnime, *, within: float = 60.0) -> dict[str, Any]:
        """The pending review task of ``anime``, once it appears."""
        tasks = await eventually(lambda: self.tasks_of(anime), within=within)
        assert len(tasks) == 1, tasks
        return dict(tasks[0])

    async def approve(self, task: Mapping[str, Any], **body: Any) -> dict[str, Any]:
        response = await self.api("POST", f"/review/api/tasks/{task['task_id']}/approve", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json()["task"])

    async def reject(self, task: Mapping[str, Any], reason: str) -> dict[str, Any]:
        response = await self.api(
            "POST", f"/review/api/tasks/{task['task_id']}/reject", json={"reason": reason}
        )
        assert response.status_code == 200, response.text
        return dict(response.json()["task"])

    # ---------------------------------------------------------------- looking at it
    async def lock(self, anime: FakeAnime) -> dict[str, Any] | None:
        ddb = await self.aws.client("dynamodb")
        resp = await ddb.get_item(
            TableName=T_LOCKS, Key={"anime_id": {"S": anime_id(anime)}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = resp.get("Item")
        return item

    async def lock_released(self, anime: FakeAnime, *, within: float = 60.0) -> None:
        async def released() -> bool:
            return await self.lock(anime) is None

        await eventually(released, within=within)

    async def execution(self, arn: str, *, status: str, within: float = 60.0) -> dict[str, Any]:
        sfn = await self.aws.client("stepfunctions")

        async def described() -> dict[str, Any] | None:
            resp: dict[str, Any] = await sfn.describe_execution(executionArn=arn)
            return resp if resp["status"] == status else None

        found: dict[str, Any] = await eventually(described, within=within)
        return found

    async def executions_of(self, anime: FakeAnime) -> list[dict[str, Any]]:
        """Every ``enrichment-review`` execution of ``anime`` (named after it)."""
        sfn = await self.aws.client("stepfunctions")
        found: list[dict[str, Any]] = []
        for machine in (await sfn.list_state_machines())["stateMachines"]:
            paginator = sfn.get_paginator("list_executions")
            async for page in paginator.paginate(stateMachineArn=machine["stateMachineArn"]):
                found += [e for e in page["executions"] if anime_id(anime) in e["name"]]
        return found

    async def committed(self, anime: FakeAnime, *, within: float = 60.0) -> AnimeEntry:
        """The live entry, once the indexer's commit finished (its last step frees the lock)."""

        async def done() -> AnimeEntry | None:
            if await self.lock(anime) is not None:
                return None
            return await self.entries.get(anime_id(anime), consistent=True)

        entry: AnimeEntry = await eventually(done, within=within)
        return entry

    async def nothing_live(self, anime: FakeAnime) -> None:
        """No entry, no vectors, no audit copy, and the API knows no such anime."""
        key = anime_id(anime)
        assert await self.entries.get(key, consistent=True) is None
        assert await self.index.get([key]) == []
        assert await self.objects.head(f"processed/updated-entries/{key}.json") is None
        assert (await self.api("GET", f"/anime/{key}", key=None)).status_code == 404

    def expected_cdn_urls(self, proposal: AnimeEntry) -> set[str]:
        """The re-hosted URL of every image of the proposal (all served by the image host)."""
        return {self.images.cdn_url(ref.url) for ref in image_urls(proposal)}
