"""The third-party proxy against loopback fakes of Jikan, AniList and Kitsu, and the real redis-server.

The fakes run an aiohttp server in a thread of their own (the app runs in TestClient's
thread), answer what a test scripts per path, and record every request they receive.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fastapi.testclient import TestClient

from avs_api.app import create_app
from avs_api.errors import ApiError
from avs_api.proxy.allowlist import JIKAN_ROUTES, resolve
from avs_api.proxy.graphql import GraphQLRejected, check_query_only
from avs_api.settings import ApiSettings
from avs_shared.embedded.processes import RedisServer, free_port


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"data": {"mal_id": 1}})
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "application/json"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class FakeUpstream:
    """One loopback server for all three providers: /v4 (Jikan), /graphql (AniList), /edge (Kitsu)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.replies: dict[str, Reply] = {}
        self.default = Reply()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [c.path for c in self.calls]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls.append(
            Call(request.method, request.path, request.rel_url.raw_query_string, dict(request.headers), body)
        )
        reply = self.replies.get(request.path, self.default)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        return web.Response(
            body=json.dumps(reply.body).encode(),
            status=reply.status,
            headers=reply.headers,
            content_type=reply.content_type,
        )

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    server = FakeUpstream()
    server.start()
    yield server
    server.stop()


def proxy_settings(
    redis_url: str, base: str, tmp_path: Path, *, prefix: str | None = None, **extra: Any
) -> ApiSettings:
    prefix = prefix or f"t-{uuid.uuid4().hex[:8]}:"
    values: dict[str, Any] = {
        "service_name": "avs-api-test",
        "redis_url": redis_url,
        "data_dir": tmp_path,
        "proxy_jikan_base_url": f"{base}/v4",
        "proxy_anilist_url": f"{base}/graphql",
        "proxy_kitsu_base_url": f"{base}/edge",
        "proxy_key_prefix": f"{prefix}proxy:",
        "rate_limit_key_prefix": f"{prefix}rl:",
        "proxy_max_wait_seconds": 0.0,
    }
    values.update(extra)
    return ApiSettings(**values)


@pytest.fixture
def client(fake: FakeUpstream, redis_server: RedisServer, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(proxy_settings(redis_server.url, fake.url, tmp_path))) as test_client:
        yield test_client


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    return error


# --- success and cache ---------------------------------------------------------------


def test_an_allowed_jikan_path_is_fetched_once_then_served_from_the_cache(
    client: TestClient, fake: FakeUpstream
) -> None:
    fake.replies["/v4/anime/1/full"] = Reply(body={"data": {"mal_id": 1, "title": "Cowboy Bebop"}})

    first = client.get("/proxy/jikan/anime/1/full")
    second = client.get("/proxy/jikan/anime/1/full")

    assert first.status_code == 200 and second.status_code == 200
    assert first.json() == second.json() == {"data": {"mal_id": 1, "title": "Cowboy Bebop"}}
    assert first.headers["x-cache"] == "MISS"
    assert second.headers["x-cache"] == "HIT"
    assert "max-age=86" in second.headers["cache-control"]  # Jikan: 24 h
    assert int(second.headers["age"]) >= 0
    assert fake.paths() == ["/v4/anime/1/full"]


def test_only_allowed_query_parameters_are_forwarded_in_a_canonical_order(
    client: TestClient, fake: FakeUpstream
) -> None:
    response = client.get(
        "/proxy/jikan/anime", params={"q": "bebop & co", "page": "2", "evil": "1", "limit": "5"}
    )
    assert response.status_code == 200, response.text
    assert fake.calls[0].path == "/v4/anime"
    assert fake.calls[0].query == "limit=5&page=2&q=bebop%20%26%20co"

    # Same parameters in another order and with other junk: the same cache entry.
    again = client.get("/proxy/jikan/anime?limit=5&junk=x&q=bebop%20%26%20co&page=2")
    assert again.headers["x-cache"] == "HIT"
    assert len(fake.calls) == 1


@pytest.mark.parametrize(
    "url",
    ["/proxy/jikan/anime?limit=1000", "/proxy/jikan/anime?page=1&page=2", "/proxy/jikan/top/anime?filter=x"],
)
def test_a_bad_value_of_an_allowed_parameter_is_400(client: TestClient, fake: FakeUpstream, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_query"
    assert fake.calls == []


def test_kitsu_is_proxied_with_its_json_api_media_type(client: TestClient, fake: FakeUpstream) -> None:
    fake.default = Reply(body={"data": []}, content_type="application/vnd.api+json")
    response = client.get("/proxy/kitsu/anime", params={"filter[text]": "bebop", "page[limit]": "5"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    assert fake.calls[0].path == "/edge/anime"
    assert fake.calls[0].query == "filter%5Btext%5D=bebop&page%5Blimit%5D=5"
    assert fake.calls[0].headers["Accept"] == "application/vnd.api+json"


def test_our_credentials_never_go_upstream_and_the_user_agent_names_the_project(
    client: TestClient, fake: FakeUpstream
) -> None:
    client.get(
        "/proxy/jikan/anime/5",
        headers={"X-API-Key": "secret-key", "Authorization": "Bearer secret-token", "Cookie": "s=1"},
    )
    sent = {name.lower(): value for name, value in fake.calls[0].headers.items()}
    assert not {"x-api-key", "authorization", "cookie"} & set(sent)
    assert "secret" not in json.dumps(sent)
    assert sent["user-agent"].startswith("anime-vector-service/")


# --- allowlist ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/proxy/jikan/users/someone",
        "/proxy/jikan/anime/1/forum",
        "/proxy/jikan/anime/abc",
        "/proxy/jikan/anime/0",
        "/proxy/kitsu/users/1",
        "/proxy/jikan/seasons/2024/monsoon",
    ],
)
def test_a_path_outside_the_allowlist_is_404_json(client: TestClient, fake: FakeUpstream, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found"
    assert "anime/{id}" in error["allowed"]
    assert fake.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "/proxy/jikan/%2e%2e/%2e%2e/admin",
        "/proxy/jikan/anime/1/%2E%2E/%2E%2E/users",
        "/proxy/jikan/anime%2F1",
        "/proxy/jikan/anime/1%252e%252e",
        "/proxy/jikan/anime%5c1",
        "/proxy/jikan/http://evil.example/anime/1",
        "/proxy/jikan//evil.example/anime/1",
        "/proxy/jikan/anime/1;x",
        "/proxy/kitsu/.env",
    ],
)
def test_traversal_encoded_paths_and_absolute_urls_are_400_and_never_sent(
    client: TestClient, fake: FakeUpstream, url: str
) -> None:
    response = client.get(url)
    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "invalid_path"
    assert fake.calls == []


@pytest.mark.parametrize("path", ["../anime/1", "anime/../../admin", "anime/1/..", "./anime/1"])
def test_literal_dot_segments_are_refused_before_matching(path: str) -> None:
    # Clients normalise ../ away before sending; a raw HTTP request can still carry it.
    with pytest.raises(ApiError) as caught:
        resolve("jikan", JIKAN_ROUTES, path, f"/proxy/jikan/{path}", [])
    assert caught.value.status == 400


# --- AniList GraphQL ------------------------------------------------------------------

QUERY = "query ($id: Int) { Media(id: $id, type: ANIME) { id title { romaji } } }"


def test_an_anilist_query_is_forwarded_once_then_cached(client: TestClient, fake: FakeUpstream) -> None:
    fake.replies["/graphql"] = Reply(body={"data": {"Media": {"id": 1}}})
    payload = {"query": QUERY, "variables": {"id": 1}, "extensions": {"persistedQuery": {}}}

    first = client.post("/proxy/anilist", json=payload)
    second = client.post("/proxy/anilist", json=payload)

    assert first.status_code == 200, first.text
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert len(fake.calls) == 1
    sent = json.loads(fake.calls[0].body)
    assert sent == {"query": QUERY, "variables": {"id": 1}}  # only what AniList needs
    assert fake.calls[0].method == "POST"


@pytest.mark.parametrize(
    "query",
    [
        "mutation { SaveMediaListEntry(mediaId: 1, status: CURRENT) { id } }",
        "subscription { Media { id } }",
        "query A { Media { id } } mutation B { DeleteMediaListEntry(id: 1) { deleted } }",
        "# a comment\nmutation{ToggleFavourite(animeId:1){anime{nodes{id}}}}",
        "type Query { a: Int }",
        "query A mutation B { x }",
    ],
)
def test_anilist_mutations_subscriptions_and_non_queries_are_rejected(
    client: TestClient, fake: FakeUpstream, query: str
) -> None:
    response = client.post("/proxy/anilist", json={"query": query})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["provider"]) == ("invalid_graphql", "anilist")
    assert fake.calls == []


def test_an_anilist_query_with_mutation_inside_a_string_or_comment_is_allowed(
    client: TestClient, fake: FakeUpstream
) -> None:
    query = 'query { Page { media(search: "mutation { x }") { id } } } # mutation { SaveMediaListEntry }'
    response = client.post("/proxy/anilist", json={"query": query})
    assert response.status_code == 200, response.text
    assert len(fake.calls) == 1


def test_anilist_bodies_are_bounded(fake: FakeUpstream, redis_server: RedisServer, tmp_path: Path) -> None:
    settings = proxy_settings(
        redis_server.url,
        fake.url,
        tmp_path,
        proxy_anilist_max_body_bytes=1024,
        proxy_anilist_max_query_chars=100,
    )
    with TestClient(create_app(settings)) as client:
        too_big = client.post("/proxy/anilist", json={"query": "{ a }", "variables": {"x": "y" * 2000}})
        too_long = client.post("/proxy/anilist", json={"query": "{ " + "a " * 60 + "}"})
        not_json = client.post("/proxy/anilist", content=b"query { a }")
    assert too_big.status_code == 413 and error_of(too_big)["code"] == "body_too_large"
    assert too_long.status_code == 400 and "longer than 100" in error_of(too_long)["message"]
    assert not_json.status_code == 400 and error_of(not_json)["code"] == "invalid_graphql"
    assert fake.calls == []


def test_anilist_answers_with_graphql_errors_are_not_cached(client: TestClient, fake: FakeUpstream) -> None:
    fake.replies["/graphql"] = Reply(
        body={"data": None, "errors": [{"message": "Not Found.", "status": 404}]}
    )
    for _ in range(2):
        assert client.post("/proxy/anilist", json={"query": QUERY}).headers["x-cache"] == "MISS"
    assert len(fake.calls) == 2


# --- upstream failures ----------------------------------------------------------------


def test_an_upstream_429_blocks_the_provider_for_every_instance_until_retry_after(
    fake: FakeUpstream, redis_server: RedisServer, tmp_path: Path
) -> None:
    fake.replies["/v4/anime/1"] = Reply(status=429, body={"status": 429}, headers={"Retry-After": "30"})
    settings = proxy_settings(redis_server.url, fake.url, tmp_path)
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        first = one.get("/proxy/jikan/anime/1")
        during = one.get("/proxy/jikan/anime/2")
        elsewhere = two.get("/proxy/jikan/anime/3")
        other_provider = two.get("/proxy/kitsu/anime/3")

    assert first.status_code == 429
    assert first.headers["retry-after"] == "30"
    assert error_of(first) | {"message": ""} == {
        "code": "upstream_rate_limited",
        "message": "",
        "retryable": True,
        "provider": "jikan",
    }
    for blocked in (during, elsewhere):
        assert blocked.status_code == 429
        assert 28 <= int(blocked.headers["retry-after"]) <= 30
    assert other_provider.status_code == 200
    assert fake.paths() == ["/v4/anime/1", "/edge/anime/3"]  # nothing reached Jikan during the block


def test_a_spent_upstream_budget_blocks_before_the_provider_says_429(
    client: TestClient, fake: FakeUpstream
) -> None:
    reset = int(time.time()) + 20
    fake.replies["/graphql"] = Reply(
        body={"data": {"Media": {"id": 1}}},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
    )
    served = client.post("/proxy/anilist", json={"query": QUERY, "variables": {"id": 1}})
    held = client.post("/proxy/anilist", json={"query": QUERY, "variables": {"id": 2}})
    assert served.status_code == 200
    assert held.status_code == 429 and 15 <= int(held.headers["retry-after"]) <= 21
    assert len(fake.calls) == 1


def test_an_upstream_500_is_a_retryable_502(client: TestClient, fake: FakeUpstream) -> None:
    fake.replies["/v4/anime/7"] = Reply(status=500, body={"error": "boom"})
    response = client.get("/proxy/jikan/anime/7")
    assert response.status_code == 502
    error = error_of(response)
    assert (error["code"], error["provider"], error["retryable"]) == ("upstream_error", "jikan", True)
    assert error["upstream_status"] == 500
    # Failures are not cached.
    client.get("/proxy/jikan/anime/7")
    assert len(fake.calls) == 2


def test_an_upstream_404_stays_404_with_a_json_body(client: TestClient, fake: FakeUpstream) -> None:
    upstream_body = {"status": 404, "type": "BadResponseException", "message": "Resource does not exist"}
    fake.replies["/v4/anime/999999"] = Reply(status=404, body=upstream_body)
    response = client.get("/proxy/jikan/anime/999999")
    assert response.status_code == 404
    error = error_of(response)
    assert (error["code"], error["provider"], error["upstream_status"]) == ("not_found", "jikan", 404)
    assert error["upstream_body"] == upstream_body


def test_a_slow_upstream_is_a_retryable_504(
    fake: FakeUpstream, redis_server: RedisServer, tmp_path: Path
) -> None:
    fake.replies["/v4/anime/8"] = Reply(delay_s=3.0)
    settings = proxy_settings(redis_server.url, fake.url, tmp_path, proxy_timeout_seconds=0.3)
    with TestClient(create_app(settings)) as client:
        started = time.monotonic()
        response = client.get("/proxy/jikan/anime/8")
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    error = error_of(response)
    assert (error["code"], error["provider"], error["retryable"]) == ("upstream_timeout", "jikan", True)
    assert elapsed < 2.0


def test_a_refused_connection_is_a_retryable_502(redis_server: RedisServer, tmp_path: Path) -> None:
    nothing_there = f"http://127.0.0.1:{free_port()}"
    with TestClient(create_app(proxy_settings(redis_server.url, nothing_there, tmp_path))) as client:
        response = client.get("/proxy/kitsu/anime/1")
    assert response.status_code == 502
    error = error_of(response)
    assert (error["code"], error["provider"], error["retryable"]) == ("upstream_error", "kitsu", True)


# --- per-provider rate limit ----------------------------------------------------------


def test_the_provider_limit_is_global_across_app_instances_sharing_redis(
    fake: FakeUpstream, redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = proxy_settings(redis_server.url, fake.url, tmp_path, proxy_jikan_per_minute=2)
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        assert one.get("/proxy/jikan/anime/1").status_code == 200
        assert two.get("/proxy/jikan/anime/2").status_code == 200
        refused = one.get("/proxy/jikan/anime/3")
        cached = two.get("/proxy/jikan/anime/1")  # a cached answer needs no slot
    assert refused.status_code == 503
    assert error_of(refused)["code"] == "upstream_busy" and error_of(refused)["provider"] == "jikan"
    assert 50 <= int(refused.headers["retry-after"]) <= 60
    assert cached.status_code == 200 and cached.headers["x-cache"] == "HIT"
    assert fake.paths() == ["/v4/anime/1", "/v4/anime/2"]


def test_a_request_waits_briefly_for_a_free_slot(
    fake: FakeUpstream, redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = proxy_settings(
        redis_server.url, fake.url, tmp_path, proxy_jikan_per_second=1, proxy_max_wait_seconds=2.0
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/proxy/jikan/anime/1").status_code == 200
        started = time.monotonic()
        waited = client.get("/proxy/jikan/anime/2")
        elapsed = time.monotonic() - started
    assert waited.status_code == 200
    assert 0.5 < elapsed < 2.0
    assert len(fake.calls) == 2


def test_the_proxy_keeps_working_while_redis_is_down(fake: FakeUpstream, tmp_path: Path) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    settings = proxy_settings(dead_redis, fake.url, tmp_path, proxy_jikan_per_minute=2)
    with TestClient(create_app(settings)) as client:
        started = time.monotonic()
        statuses = [client.get(f"/proxy/jikan/anime/{i}").status_code for i in (1, 1, 2, 3)]
        elapsed = time.monotonic() - started
    # No cache (both anime/1 went upstream), but the in-process limit still holds Jikan to 2.
    assert statuses == [200, 200, 503, 503]
    assert fake.paths() == ["/v4/anime/1", "/v4/anime/1"]
    assert elapsed < 3.0


# --- the GraphQL lexer, against graphql-core where it is installed ----------------------

DOCUMENTS = [
    "{ Media(id: 1) { id } }",
    QUERY,
    'query Q($s: String = "mutation") @cached(ttl: 1) { Page { media(search: $s) { ...F } } }\n'
    "fragment F on Media { id }",
    'query { Media(search: """a \\""" mutation { b } """) { id } }',
    "query ($o: In = {a: {b: [1, 2]}}) { a(o: $o) }",
    "query mutation { a }",
    "mutation { a }",
    "subscription S { a }",
    "query { a } mutation { b }",
    "fragment F on Media { id }",
    "type Query { a: Int }",
    "extend type Query { b: Int }",
    "schema { query: Query }",
    "{ a(x: -1.5e3, y: true, z: null) }",
]


def _reference_verdict(document: str) -> bool | None:
    graphql = pytest.importorskip("graphql")
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError:
        return None  # not well-formed: upstream would reject it whatever we decide
    ops = [d.operation.value for d in parsed.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    others = [
        d
        for d in parsed.definitions
        if not isinstance(d, graphql.OperationDefinitionNode | graphql.FragmentDefinitionNode)
    ]
    return bool(ops) and all(op == "query" for op in ops) and not others


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_lexer_agrees_with_graphql_core_on_well_formed_documents(document: str) -> None:
    expected = _reference_verdict(document)
    assert expected is not None, "keep this list to well-formed documents"
    try:
        check_query_only(document)
        allowed = True
    except GraphQLRejected:
        allowed = False
    assert allowed == expected


def test_the_lexer_bounds_nesting() -> None:
    with pytest.raises(GraphQLRejected, match="deeper"):
        check_query_only("{" + " a {" * 20 + " b" + " }" * 21, max_depth=16)


def test_proxy_routes_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/proxy/jikan/{path}", "/proxy/anilist", "/proxy/kitsu/{path}"} <= set(paths)
