"""Fixtures and helpers of the sync's tests (conftest.py imports the fixtures, tests the
helpers): the session's moto server, a fresh Qdrant Edge shard per test, hand-written
offline files, and a loopback HTTP server standing in for GitHub.

* ``ports``: :class:`SyncPorts` on a freshly provisioned moto; its vector collection is
  opened with a small test model (8 dimensions), so no embedding model is loaded.
* ``seed``: puts entries into DynamoDB and their points (payload as the indexer writes
  it) into the shard.
* ``offline``: writes an offline-database file (minified JSON or JSONL, optionally
  ``.zst``) from records; ``record`` builds one record.
* ``github``: serves files with ETags, a ``commits/latest`` endpoint, and failures on
  demand; it counts requests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zstandard
from aiohttp import web

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.events import Envelope
from avs_shared.ports.vector import VectorPoint
from avs_shared.runtime import build_runtime
from avs_shared.schema import AnimeEntry
from avs_shared.settings import ServiceSettings
from avs_shared.topology import SNAPSHOT_KEY, SOURCE_COMMIT_METADATA
from avs_sync.ports import SyncPorts, build_sync_ports
from avs_sync.settings import SyncSettings

TEST_MODEL = ("sync-test-model", 8)
HEADER = {
    "$schema": "https://raw.githubusercontent.com/manami-project/anime-offline-database/master/schemas/x.json",
    "license": {"name": "ODbL-1.0", "url": "https://opendatacommons.org/licenses/odbl/1-0/"},
    "repository": "https://github.com/manami-project/anime-offline-database",
    "scoreRange": {"minInclusive": 1.0, "maxInclusive": 10.0},
    "lastUpdate": "2025-09-06",
}

Drain = Callable[[str], Awaitable[list[Envelope]]]


def mal(n: int) -> str:
    return f"https://myanimelist.net/anime/{n}"


def anilist(n: int) -> str:
    return f"https://anilist.co/anime/{n}"


def record(
    title: str,
    sources: Sequence[str],
    *,
    status: str = "FINISHED",
    episodes: int = 12,
    type: str = "TV",
    **extra: Any,
) -> dict[str, Any]:
    """One offline-database record in the source's JSON shape."""
    doc: dict[str, Any] = {
        "sources": list(sources),
        "title": title,
        "type": type,
        "episodes": episodes,
        "status": status,
        "animeSeason": {"season": "SPRING", "year": 2020},
        "picture": "https://cdn.myanimelist.net/images/anime/1/1.jpg",
        "thumbnail": "https://cdn.myanimelist.net/images/anime/1/1t.jpg",
        "synonyms": [],
        "studios": [],
        "producers": [],
        "relatedAnime": [],
        "tags": [],
    }
    doc.update(extra)
    return doc


def entry(anime_id: str, title: str, sources: Sequence[str], **fields: Any) -> AnimeEntry:
    doc: dict[str, Any] = {"id": anime_id, "title": title, "type": "TV", "status": "FINISHED"}
    doc.update(sources=list(sources), episodes=12, synopsis=f"{title} is a test anime.")
    doc.update(fields)
    return AnimeEntry.from_json_dict(doc)


def write_offline(
    path: Path, records: Sequence[dict[str, Any]], *, fmt: str = "json", zst: bool = False
) -> Path:
    """An offline-database file: minified JSON or JSONL (header line first), optionally zstd."""
    if fmt == "json":
        text = json.dumps({**HEADER, "data": list(records)}, separators=(",", ":"))
    else:
        lines = [json.dumps(HEADER)] + [json.dumps(r) for r in records]
        text = "\n".join(lines) + "\n"
    data = text.encode()
    if zst:
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


@pytest.fixture
def offline(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1_000_000))

    def make(records: Sequence[dict[str, Any]], *, fmt: str = "json", zst: bool = False) -> Path:
        name = f"offline-{next(counter)}.{'jsonl' if fmt == 'jsonl' else 'json'}{'.zst' if zst else ''}"
        return write_offline(tmp_path / name, records, fmt=fmt, zst=zst)

    return make


def sync_settings(data_dir: Path, **overrides: Any) -> SyncSettings:
    values: dict[str, Any] = {
        "service_name": "avs-sync-tests",
        "data_dir": data_dir,
        "log_format": "console",
        "sync_version_url": "",
        "sync_download_attempts": 3,
    }
    values.update(overrides)
    return SyncSettings(**values)


@pytest.fixture
async def make_ports(
    provisioned: Provisioner, aws: AwsClients, settings: ServiceSettings, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[SyncPorts]]]:
    """Build sync ports on the session's AWS; all share one edge shard (one owner per shard)."""
    index = EdgeVectorIndex(tmp_path / "qdrant-edge" / "anime")
    await index.ensure_collection(*TEST_MODEL)
    publisher, _, claim_check = await build_runtime(aws, settings)

    async def make(*, lease_s: float = 120.0, publisher_override: Any = None, **overrides: Any) -> SyncPorts:
        ports = build_sync_ports(
            sync_settings(tmp_path / "data", **overrides),
            aws,
            index,
            publisher_override or publisher,
            claim_check,
            lease_s=lease_s,
        )
        return SyncPorts(**{**ports.__dict__, "index_model": TEST_MODEL})

    yield make
    await index.close()


@pytest.fixture
async def ports(make_ports: Callable[..., Awaitable[SyncPorts]]) -> SyncPorts:
    return await make_ports()


def point_for(e: AnimeEntry) -> VectorPoint:
    """A point with the payload fields the sync changes, as the indexer writes them."""
    payload: dict[str, Any] = {"anime_id": e.id, "title": e.title, "status": str(e.status)}
    payload["system_status"] = str(e.system_status)
    if e.orphaned_at is not None:
        payload["orphaned_at"] = e.orphaned_at.isoformat()
    vector = [1.0] + [0.0] * (TEST_MODEL[1] - 1)
    return VectorPoint(id=e.id, vectors={"text": vector, "tags": vector}, payload=payload)


@pytest.fixture
def seed(ports: SyncPorts) -> Callable[[Sequence[AnimeEntry]], Awaitable[None]]:
    async def run(entries: Sequence[AnimeEntry]) -> None:
        await ports.entries.batch_put(entries)
        await ports.index.upsert([point_for(e) for e in entries])

    return run


@pytest.fixture
async def snapshot_object(
    aws: AwsClients, provisioned: Provisioner
) -> Callable[[str | None], Awaitable[None]]:
    """Put a (small) snapshot object that carries the recorded source version."""

    async def put(version: str | None) -> None:
        metadata = {SOURCE_COMMIT_METADATA: version} if version else {}
        body = json.dumps({"data": []}).encode()
        await S3ObjectStore(aws).put(SNAPSHOT_KEY, body, content_type="application/json", metadata=metadata)

    return put


async def recorded_version(aws: AwsClients) -> str | None:
    head = await S3ObjectStore(aws).head(SNAPSHOT_KEY)
    return None if head is None else head.get(SOURCE_COMMIT_METADATA)


# ----------------------------------------------------------------------------- inspecting
async def raw_item(aws: AwsClients, table: str, key: str) -> dict[str, Any] | None:
    ddb = await aws.client("dynamodb")
    resp = await ddb.get_item(TableName=table, Key={"anime_id": {"S": key}}, ConsistentRead=True)
    item: dict[str, Any] | None = resp.get("Item")
    return item


# ----------------------------------------------------------------------------- loopback "GitHub"
@dataclass
class FakeGitHub:
    """Files served under ``/download/<name>`` with ETags; ``/commits/latest`` answers a SHA."""

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    commit: str = "0" * 40
    fail_next: int = 0
    fail_gets: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base}/download/{name}"

    @property
    def version_url(self) -> str:
        return f"{self.base}/commits/latest"

    def downloads(self, name: str) -> int:
        return sum(1 for method, path in self.requests if method == "GET" and path.endswith(name))


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    state = FakeGitHub()

    async def download(request: web.Request) -> web.StreamResponse:
        state.requests.append((request.method, request.path))
        if state.fail_next > 0 or (request.method == "GET" and state.fail_gets > 0):
            if state.fail_next > 0:
                state.fail_next -= 1
            else:
                state.fail_gets -= 1
            return web.Response(status=503, text="try again")
        body = state.files.get(request.match_info["name"])
        if body is None:
            return web.Response(status=404, text="no such asset")
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        if request.method == "HEAD":
            return web.Response(headers={"ETag": etag, "Content-Length": str(len(body))})
        return web.Response(body=body, headers={"ETag": etag})

    async def commit(request: web.Request) -> web.Response:
        state.requests.append((request.method, request.path))
        return web.Response(text=state.commit)

    app = web.Application()
    app.router.add_route("*", "/download/{name}", download)
    app.router.add_get("/commits/latest", commit)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()
