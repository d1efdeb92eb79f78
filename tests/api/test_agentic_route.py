"""``GET /search/agentic`` end to end: plan, run through the search service, report.

The rules planner is tested through ``search_api`` (``tests/api/conftest.py``): the
project's 64-anime sample bootstrapped into a Qdrant Edge shard with the real model,
behind the app, in the test's event loop. The LLM planners get apps of their own
(other settings) over the same index. Expected results of filter-only searches are
computed from the sample itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from avs_api.app import create_app
from avs_api.settings import ApiSettings
from avs_indexer.bootstrap import sample_path
from avs_indexer.documents import entry_payload
from avs_shared.embedded.processes import free_port
from avs_shared.schema import AnimeEntry

ENTRIES = [AnimeEntry.from_json_dict(e) for e in json.loads(Path(sample_path()).read_text())["data"]]
PAYLOADS = [entry_payload(e) for e in ENTRIES]
ID_OF = {p["title"]: p["anime_id"] for p in PAYLOADS}


def expected_ids(keep: Callable[[dict[str, Any]], bool], field: str, *, descending: bool = True) -> list[str]:
    """Ids of the sample's anime that ``keep`` accepts, by ``field`` then id, as the index orders them."""
    kept = [p for p in PAYLOADS if keep(p)]
    kept.sort(key=lambda p: p["anime_id"])
    kept.sort(key=lambda p: p[field], reverse=descending)
    return [p["anime_id"] for p in kept]


@contextlib.asynccontextmanager
async def api(search_api: Any, data_dir: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own (other settings) over the search tests' index and model."""
    app = create_app(
        ApiSettings(
            service_name="avs-api-test",
            data_dir=data_dir,
            redis_url=f"redis://127.0.0.1:{free_port()}/0",  # the agentic route never needs Redis
            rate_limit_enabled=False,
            **settings,
        ),
        index=search_api.stack.index,
        embedder=search_api.stack.embedder,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client,
    ):
        yield client


@pytest.fixture
def client(search_api: Any) -> httpx.AsyncClient:
    """The search tests' app: the default (rules) planner."""
    c: httpx.AsyncClient = search_api.client
    return c


async def search(client: httpx.AsyncClient, q: str, **params: Any) -> dict[str, Any]:
    response = await client.get("/search/agentic", params={"q": q, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["anime_id"] for item in body["items"]]


# ----------------------------------------------------------------------------- filter-only plans


async def test_a_filter_only_query_is_a_structured_search_in_popularity_order(
    client: httpx.AsyncClient,
) -> None:
    body = await search(client, "anime movies from the 1990s")

    assert body["plan"] == {
        "query": None,
        "filters": {"year_from": 1990, "year_to": 1999, "type": ["MOVIE"]},
        "sort": None,
        "order": None,
        "similar_to": None,
    }
    assert body["planner"]["used"] == "rules" and body["planner"]["requested"] == "rules"
    assert body["planner"]["fallback_reason"] is None
    assert body["search"]["mode"] == "structured" and body["search"]["sort"] == "popularity"
    assert ids(body) == expected_ids(
        lambda p: p["type"] == "MOVIE" and 1990 <= p["year"] <= 1999, "popularity"
    )
    assert body["has_more"] is False


async def test_best_sorts_by_score(client: httpx.AsyncClient) -> None:
    body = await search(client, "best horror")

    assert body["plan"]["sort"] == "score" and body["search"]["sort"] == "score"
    assert ids(body) == expected_ids(lambda p: "Horror" in p["genres"], "score")


async def test_newest_sorts_by_year_and_studios_filter(client: httpx.AsyncClient) -> None:
    body = await search(client, "newest Studio Ghibli films")

    assert body["plan"]["filters"] == {"type": ["MOVIE"], "studios": ["Studio Ghibli"]}
    assert (body["search"]["sort"], body["search"]["order"]) == ("year", "desc")
    assert ids(body) == expected_ids(lambda p: "Studio Ghibli" in p["studios"], "year")


async def test_tags_and_negations_filter(client: httpx.AsyncClient) -> None:
    body = await search(client, "mecha anime from the 2000s without drama")

    assert body["plan"]["filters"] == {
        "genres_exclude": ["Drama"],
        "tags_all": ["mecha"],
        "year_from": 2000,
        "year_to": 2009,
    }
    expected = expected_ids(
        lambda p: "mecha" in p["tags"] and "Drama" not in p["genres"] and 2000 <= p["year"] <= 2009,
        "popularity",
    )
    assert expected and ids(body) == expected


async def test_limit_bounds_the_page_and_has_more_says_there_is_more(client: httpx.AsyncClient) -> None:
    body = await search(client, "action anime", limit=3)

    everything = expected_ids(lambda p: "Action" in p["genres"], "popularity")
    assert ids(body) == everything[:3]
    assert body["has_more"] is True and body["next_cursor"]


# ----------------------------------------------------------------------------- text and "like <title>"


async def test_query_text_is_a_semantic_search_that_finds_a_named_title_first(
    client: httpx.AsyncClient,
) -> None:
    body = await search(client, "Cowboy Bebop")

    assert body["plan"]["query"] == "Cowboy Bebop" and body["plan"]["filters"] == {}
    assert body["search"]["mode"] == "semantic" and body["search"]["sort"] == "relevance"
    assert ids(body)[0] == ID_OF["Cowboy Bebop"]


async def test_a_plot_description_is_searched_as_written(client: httpx.AsyncClient) -> None:
    q = "a bounty hunter crew drifting through space with a jazz soundtrack"
    body = await search(client, q, limit=3)

    assert body["plan"]["query"] == q and body["plan"]["filters"] == {}
    assert ID_OF["Cowboy Bebop"] in ids(body)


async def test_query_text_with_filters_searches_within_them(client: httpx.AsyncClient) -> None:
    body = await search(client, "classic anime from the 1980s")

    assert body["plan"]["query"] == "classic"
    assert body["search"]["mode"] == "semantic"
    assert body["items"] and all(1980 <= item["year"] <= 1989 for item in body["items"])


async def test_a_sort_hint_with_query_text_is_reported_as_not_applied(client: httpx.AsyncClient) -> None:
    body = await search(client, "best shows about bounty hunters")

    assert body["plan"]["sort"] == "score" and body["search"]["sort"] == "relevance"
    assert any("ranked by relevance" in note for note in body["search"]["notes"])


async def test_like_a_title_lists_anime_similar_to_the_resolved_title(client: httpx.AsyncClient) -> None:
    body = await search(client, "anime like Cowboy Bebop", limit=5)

    assert body["plan"]["similar_to"] == "Cowboy Bebop"
    assert body["search"]["mode"] == "similar"
    assert body["search"]["similar_to"] == {
        "title": "Cowboy Bebop",
        "anime_id": ID_OF["Cowboy Bebop"],
        "matched_title": "Cowboy Bebop",
    }
    assert len(body["items"]) == 5 and ID_OF["Cowboy Bebop"] not in ids(body)


async def test_like_a_title_by_a_synonym_under_the_plans_filters(client: httpx.AsyncClient) -> None:
    # "Spirited Away" is a synonym of "Sen to Chihiro no Kamikakushi"; "films" keeps movies only.
    body = await search(client, "films like Spirited Away")

    assert body["search"]["similar_to"]["anime_id"] == ID_OF["Sen to Chihiro no Kamikakushi"]
    movies = {p["anime_id"] for p in PAYLOADS if p["type"] == "MOVIE"}
    assert body["items"] and set(ids(body)) <= movies - {ID_OF["Sen to Chihiro no Kamikakushi"]}


async def test_a_title_nothing_is_called_becomes_query_text(client: httpx.AsyncClient) -> None:
    body = await search(client, "something like Zzyzxqv Wumpfle")

    assert body["plan"]["similar_to"] == "Zzyzxqv Wumpfle"
    assert body["search"]["mode"] == "semantic"
    assert body["search"]["similar_to"] == {
        "title": "Zzyzxqv Wumpfle",
        "anime_id": None,
        "matched_title": None,
    }
    assert any("no anime found by the title" in note for note in body["search"]["notes"])


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 301}, "q"),
        ({"q": "mecha", "limit": 0}, "limit"),
        ({"q": "mecha", "limit": 51}, "limit"),
        ({"q": "mecha", "limit": "many"}, "limit"),
    ],
    ids=["missing", "empty", "blank", "too-long", "limit-0", "limit-51", "limit-not-a-number"],
)
async def test_invalid_requests_are_422_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/search/agentic", params=params)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [f["field"] for f in error["fields"]] == [field]


async def test_a_300_character_query_is_accepted(client: httpx.AsyncClient) -> None:
    q = ("a quiet story about a lighthouse keeper and her cat " * 6)[:300]
    body = await search(client, q)
    assert body["search"]["mode"] == "semantic"


async def test_the_endpoint_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/search/agentic"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"q", "limit"}


# ----------------------------------------------------------------------------- an LLM planner behind it


@contextlib.asynccontextmanager
async def fake_bedrock(
    answer: str, monkeypatch: pytest.MonkeyPatch, *, delay_s: float = 0.0
) -> AsyncIterator[None]:
    """A loopback Converse endpoint that always answers ``answer`` (after ``delay_s``)."""

    async def converse(request: web.Request) -> web.Response:
        await asyncio.sleep(delay_s)
        return web.json_response(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
            }
        )

    app = web.Application()
    app.router.add_post("/model/{model_id}/converse", converse)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    try:
        yield
    finally:
        await runner.cleanup()


async def test_a_bedrock_plan_is_used_and_reported(
    search_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = json.dumps(
        {"query": None, "filters": {"genres_all": ["sports"], "year_from": 2010}, "sort": "score"}
    )
    async with (
        fake_bedrock(answer, monkeypatch),
        api(search_api, tmp_path, agentic_planner="bedrock") as client,
    ):
        body = await search(client, "the best sports anime of the last fifteen years")

    assert body["planner"]["used"] == "bedrock" and body["planner"]["fallback_reason"] is None
    assert body["plan"]["filters"] == {
        "genres_all": ["Sports"],
        "year_from": 2010,
    }  # the catalogue's spelling
    assert ids(body) == expected_ids(lambda p: "Sports" in p["genres"] and p["year"] >= 2010, "score")


@pytest.mark.parametrize(
    ("answer", "delay_s", "reason"),
    [('{"filters": {"year": 99999}}', 0.0, "invalid_answer"), ("{}", 1.0, "timeout")],
    ids=["invalid", "late"],
)
async def test_a_failing_bedrock_falls_back_to_the_rules_and_says_why(
    search_api: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    delay_s: float,
    reason: str,
) -> None:
    async with (
        fake_bedrock(answer, monkeypatch, delay_s=delay_s),
        api(search_api, tmp_path, agentic_planner="bedrock", planner_timeout_seconds=0.5) as client,
    ):
        body = await search(client, "best horror")

    assert {k: body["planner"][k] for k in ("used", "requested", "fallback_reason")} == {
        "used": "rules",
        "requested": "bedrock",
        "fallback_reason": reason,
    }
    assert body["planner"]["detail"]
    assert ids(body) == expected_ids(lambda p: "Horror" in p["genres"], "score")


async def test_an_unreachable_bedrock_falls_back_to_the_rules(
    search_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{free_port()}")
    async with api(search_api, tmp_path, agentic_planner="bedrock") as client:
        body = await search(client, "best horror")

    assert (body["planner"]["used"], body["planner"]["fallback_reason"]) == ("rules", "unreachable")
    assert body["items"]
