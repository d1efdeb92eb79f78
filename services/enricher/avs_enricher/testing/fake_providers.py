"""Loopback fakes of Jikan, AniList, Kitsu, AniDB and AnimeSchedule: one aiohttp server each.

They answer for the invented anime of :mod:`.catalogue` in each provider's own shapes
(:mod:`.shapes`), record every request, and can be told to fail: ``error500``,
``ratelimit`` (429 with ``Retry-After``), ``timeout`` (answer after ``delay_s``),
``banned`` (AniDB's ``<error>Banned</error>``; 403 elsewhere) and ``notfound``, for the
next ``times`` requests or until :meth:`FakeProviders.heal`. Unknown ids get each
provider's real "not found" answer.

Used by the enricher's tests, the end-to-end test and demos::

    async with FakeProviders() as fakes:
        settings = EnricherSettings(**fakes.settings_overrides())
    # or, from synchronous code (a TestClient test):
    with serve_in_thread(FakeProviders()) as fakes:
        os.environ.update(fakes.environment())

For a demo of ``avs run`` without internet: ``python -m avs_enricher.testing.fake_providers``
serves them until Ctrl-C and prints the ``export`` lines for the shell that runs ``avs run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import web

from avs_enricher.testing import shapes, shapes_anidb, shapes_anilist
from avs_enricher.testing.catalogue import CATALOGUE, FakeAnime

Mode = Literal["error500", "ratelimit", "timeout", "banned", "notfound"]
PROVIDERS = ("jikan", "anilist", "kitsu", "anidb", "animeschedule")
ANIDB_CLIENT = "avsfake"
_PREFIX = {
    "jikan": "/v4",
    "anilist": "",
    "kitsu": "/api/edge",
    "anidb": "/httpapi",
    "animeschedule": "/api/v3",
}
_SETTING = {
    "jikan": "enricher_jikan_base_url",
    "anilist": "enricher_anilist_url",
    "kitsu": "enricher_kitsu_base_url",
    "anidb": "enricher_anidb_url",
    "animeschedule": "enricher_animeschedule_base_url",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Outage:
    mode: Mode
    times: int | None
    retry_after_s: float
    delay_s: float
    only: str | None = None  # fail only requests whose path contains this


@dataclass(frozen=True)
class Recorded:
    provider: str
    method: str
    path: str
    query: str
    body: bytes
    at: float  # time.monotonic()


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


class FakeProviders:
    """The five fake providers on loopback ports (``start``/``stop``, or ``async with``)."""

    def __init__(self, catalogue: dict[str, FakeAnime] | None = None, *, jikan_page_size: int = 100) -> None:
        self.catalogue = catalogue or CATALOGUE
        self.jikan_page_size = jikan_page_size
        self.recorded: list[Recorded] = []
        self._outages: dict[str, Outage] = {}
        self._runners: dict[str, web.AppRunner] = {}
        self._ports: dict[str, int] = {}

    # ----------------------------------------------------------------- lifecycle
    async def start(self, host: str = "127.0.0.1") -> Self:
        routes = {
            "jikan": self._jikan,
            "anilist": self._anilist,
            "kitsu": self._kitsu,
            "anidb": self._anidb,
            "animeschedule": self._animeschedule,
        }
        for provider, handler in routes.items():
            app = web.Application(middlewares=[self._middleware(provider)])
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, shutdown_timeout=0.1, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, host, 0)
            await site.start()
            self._runners[provider] = runner
            self._ports[provider] = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- wiring
    def url(self, provider: str) -> str:
        return f"http://127.0.0.1:{self._ports[provider]}{_PREFIX[provider]}"

    def settings_overrides(self) -> dict[str, Any]:
        """``EnricherSettings`` fields that point the enricher at these fakes."""
        values: dict[str, Any] = {_SETTING[p]: self.url(p) for p in PROVIDERS}
        values["enricher_anidb_client"] = ANIDB_CLIENT
        return values

    def environment(self) -> dict[str, str]:
        """The same as environment variables (``AVS_ENRICHER_*``)."""
        return {f"AVS_{k.upper()}": str(v) for k, v in self.settings_overrides().items()}

    # ----------------------------------------------------------------- control
    def fail(
        self,
        provider: str,
        mode: Mode,
        *,
        times: int | None = None,
        retry_after_s: float = 1.0,
        delay_s: float = 30.0,
        only: str | None = None,
    ) -> None:
        """Make ``provider`` fail the next ``times`` requests (None: until :meth:`heal`); with
        ``only``, just the requests whose path contains it (``"/episodes"``)."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; one of {PROVIDERS}")
        self._outages[provider] = Outage(mode, times, retry_after_s, delay_s, only)

    def fail_all(self, mode: Mode, **kwargs: Any) -> None:
        for provider in PROVIDERS:
            self.fail(provider, mode, **kwargs)

    def heal(self, provider: str | None = None) -> None:
        if provider is None:
            self._outages.clear()
        else:
            self._outages.pop(provider, None)

    def requests(self, provider: str | None = None) -> list[Recorded]:
        return [r for r in self.recorded if provider is None or r.provider == provider]

    # ----------------------------------------------------------------- outages
    def _middleware(self, provider: str) -> Any:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            body = await request.read()
            self.recorded.append(
                Recorded(provider, request.method, request.path, request.query_string, body, time.monotonic())
            )
            outage = self._outages.get(provider)
            if outage is not None and (outage.only is None or outage.only in request.path):
                if outage.times is not None:
                    outage.times -= 1
                    if outage.times <= 0:
                        self._outages.pop(provider, None)
                if outage.mode == "timeout":
                    await asyncio.sleep(outage.delay_s)
                else:
                    return self._failure(provider, outage)
            return await handler(request)

        return middleware

    def _failure(self, provider: str, outage: Outage) -> web.Response:
        if outage.mode == "error500":
            return web.Response(
                status=500,
                text="<html><body>500 Internal Server Error</body></html>",
                content_type="text/html",
            )
        if outage.mode == "ratelimit":
            headers = {"Retry-After": f"{outage.retry_after_s:g}"}
            if provider == "anilist":
                headers |= {"X-RateLimit-Limit": "90", "X-RateLimit-Remaining": "0"}
            return _json(
                {"status": 429, "type": "RateLimitException", "message": "Too Many Requests."}, 429, headers
            )
        if outage.mode == "banned":
            if provider == "anidb":
                return web.Response(text="<error>Banned</error>", content_type="text/xml")
            return _json({"errors": [{"status": "403", "title": "Forbidden"}]}, 403)
        return self._not_found(provider)

    def _not_found(self, provider: str) -> web.Response:
        if provider == "jikan":
            return _json(
                {"status": 404, "type": "BadResponseException", "message": "Resource does not exist"}, 404
            )
        if provider == "anilist":
            return _json({"errors": [{"message": "Not Found.", "status": 404}], "data": {"Media": None}}, 404)
        if provider == "kitsu":
            return _json({"errors": [{"title": "Record not found", "status": "404", "code": "404"}]}, 404)
        if provider == "anidb":
            return web.Response(text="<error>Anime not found</error>", content_type="text/xml")
        return _json({"error": "not found"}, 404)

    def _by(self, attribute: str, value: Any) -> FakeAnime | None:
        return next(
            (
                a
                for a in self.catalogue.values()
                if value is not None and str(getattr(a, attribute)) == str(value)
            ),
            None,
        )

    # ----------------------------------------------------------------- providers
    async def _jikan(self, request: web.Request) -> web.Response:
        parts = request.path.removeprefix("/v4/").strip("/").split("/")
        anime = self._by("mal_id", parts[1]) if len(parts) >= 3 and parts[0] == "anime" else None
        if anime is None:
            return self._not_found("jikan")
        if parts[2] == "full":
            return _json(shapes.jikan_full(anime))
        if parts[2] == "characters":
            return _json(shapes.jikan_characters(anime))
        if parts[2] == "episodes" and len(parts) == 3:
            page = int(request.query.get("page", "1"))
            return _json(shapes.jikan_episodes(anime, page, self.jikan_page_size))
        if parts[2] == "episodes" and len(parts) == 4:
            episode = next((e for e in anime.episodes if str(e.number) == parts[3]), None)
            if episode is not None:
                return _json({"data": shapes.jikan_episode(anime, episode, full=True)})
        return self._not_found("jikan")

    async def _anilist(self, request: web.Request) -> web.Response:
        doc = json.loads(await request.read() or b"{}")
        query, variables = doc.get("query", ""), doc.get("variables") or {}
        anime = self._by("anilist_id", variables.get("id"))
        headers = {"X-RateLimit-Limit": "90", "X-RateLimit-Remaining": "88"}
        if anime is None:
            return self._not_found("anilist")
        if "AiringSchedule(" in query:
            episode = next((e for e in anime.episodes if e.number == variables.get("episode")), None)
            if episode is None:
                return _json(
                    {"errors": [{"message": "Not Found.", "status": 404}], "data": {"AiringSchedule": None}},
                    404,
                )
            at = shapes_anilist.anilist_media(anime)["airingSchedule"]["nodes"][anime.episodes.index(episode)]
            return _json({"data": {"AiringSchedule": at}}, headers=headers)
        return _json({"data": {"Media": shapes_anilist.anilist_media(anime)}}, headers=headers)

    async def _kitsu(self, request: web.Request) -> web.Response:
        parts = request.path.removeprefix("/api/edge/").strip("/").split("/")
        if parts == ["anime"] and "filter[slug]" in request.query:
            anime = self._by("kitsu_slug", request.query["filter[slug]"])
            found = [shapes.kitsu_resource(anime)] if anime else []
            included = shapes.kitsu_categories(anime) if anime else []
            return _json({"data": found, "included": included, "meta": {"count": len(found)}})
        anime = self._by("kitsu_id", parts[1]) if len(parts) >= 2 and parts[0] == "anime" else None
        if anime is None:
            return self._not_found("kitsu")
        if len(parts) == 2:
            return _json({"data": shapes.kitsu_resource(anime), "included": shapes.kitsu_categories(anime)})
        if parts[2] == "episodes":
            episodes = list(anime.episodes)
            if "filter[number]" in request.query:
                episodes = [e for e in episodes if str(e.number) == request.query["filter[number]"]]
            limit = int(request.query.get("page[limit]", "10"))
            offset = int(request.query.get("page[offset]", "0"))
            page = episodes[offset : offset + limit]
            links = {"first": str(request.url)}
            if offset + limit < len(episodes):
                links["next"] = str(request.url.update_query({"page[offset]": str(offset + limit)}))
            data = [shapes.kitsu_episode(anime, e) for e in page]
            return _json({"data": data, "meta": {"count": len(episodes)}, "links": links})
        return self._not_found("kitsu")

    async def _anidb(self, request: web.Request) -> web.Response:
        q = request.query
        if (
            q.get("client") != ANIDB_CLIENT
            or not q.get("clientver", "").isdigit()
            or q.get("protover") != "1"
        ):
            return web.Response(
                text='<error code="302">client version missing or invalid</error>', content_type="text/xml"
            )
        if q.get("request") != "anime":
            return web.Response(text='<error code="500">unknown request</error>', content_type="text/xml")
        anime = self._by("anidb_id", q.get("aid"))
        if anime is None:
            return self._not_found("anidb")
        return web.Response(body=shapes_anidb.anidb_xml(anime), content_type="text/xml", charset="utf-8")

    async def _animeschedule(self, request: web.Request) -> web.Response:
        parts = request.path.removeprefix("/api/v3/").strip("/").split("/")
        if parts == ["anime"]:
            return _json(shapes.schedule_search(request.query.get("q", ""), self.catalogue.values()))
        anime = self._by("schedule_route", parts[1]) if len(parts) == 2 and parts[0] == "anime" else None
        if anime is None:
            return self._not_found("animeschedule")
        return _json(shapes.schedule_item(anime))


@contextlib.contextmanager
def serve_in_thread(fakes: FakeProviders) -> Iterator[FakeProviders]:
    """Run ``fakes`` on an event loop of their own (for synchronous callers)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-providers", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(fakes.start(), loop).result(timeout=15)
        yield fakes
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(fakes.stop(), loop).result(timeout=15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=15)
        loop.close()


async def _serve() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FakeProviders() as fakes:
        for name, value in fakes.environment().items():
            print(f"export {name}={value}", flush=True)
        print("# fake providers serving; Ctrl-C stops them", flush=True)
        await stop.wait()


def main() -> None:
    """Serve the fakes on loopback ports until Ctrl-C."""
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
