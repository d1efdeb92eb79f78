"""The providers' shared HTTP path against the loopback fakes and the real redis-server:
cache, retries, Retry-After, rate limits across processes, timeouts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from avs_enricher.providers import ProviderError, ProviderHttp, ProviderNotFound, provider_limits
from avs_enricher.settings import EnricherSettings
from avs_enricher.testing.fake_providers import FakeProviders
from avs_shared.adapters.redis_limits import RedisLimits
from avs_shared.runtime.metrics import use_meter_provider

MakeSettings = Callable[..., EnricherSettings]
OpenHttp = Callable[[EnricherSettings], ProviderHttp]


def jikan(settings: EnricherSettings, path: str = "/anime/90001/full") -> str:
    return f"{settings.enricher_jikan_base_url}{path}"


async def test_a_cached_answer_costs_no_request_in_any_process(
    fakes: FakeProviders, enricher_settings: EnricherSettings, open_http: OpenHttp
) -> None:
    limits = provider_limits(enricher_settings)["jikan"]
    first, second = open_http(enricher_settings), open_http(enricher_settings)

    body = await first.fetch(limits, "GET", jikan(enricher_settings))
    again = await first.fetch(limits, "GET", jikan(enricher_settings))
    elsewhere = await second.fetch(limits, "GET", jikan(enricher_settings))

    assert json.loads(body)["data"]["mal_id"] == 90001
    assert body == again == elsewhere
    assert len(fakes.requests("jikan")) == 1
    assert (first.stats.cache_hits, second.stats.cache_hits) == (1, 1)


async def test_the_cache_key_is_method_url_and_body(
    fakes: FakeProviders, enricher_settings: EnricherSettings, http: ProviderHttp
) -> None:
    limits = provider_limits(enricher_settings)["anilist"]
    url = enricher_settings.enricher_anilist_url

    async def post(anime_id: int) -> bytes:
        body = json.dumps(
            {"query": "query ($id: Int) { Media(id: $id) { id } }", "variables": {"id": anime_id}}
        )
        return await http.fetch(
            limits, "POST", url, body=body.encode(), headers={"Content-Type": "application/json"}
        )

    one, two, one_again = await post(190001), await post(190002), await post(190001)

    assert json.loads(one)["data"]["Media"]["id"] == 190001
    assert json.loads(two)["data"]["Media"]["id"] == 190002
    assert one == one_again
    assert len(fakes.requests("anilist")) == 2
    with pytest.raises(ProviderNotFound):  # another URL: no cache entry, and a 404 is not cached either
        await http.fetch(limits, "GET", jikan(enricher_settings, "/anime/1/full"))


async def test_transient_failures_are_retried_and_never_cached(
    fakes: FakeProviders, enricher_settings: EnricherSettings, http: ProviderHttp
) -> None:
    limits = provider_limits(enricher_settings)["jikan"]
    fakes.fail("jikan", "error500", times=2)

    body = await http.fetch(limits, "GET", jikan(enricher_settings))

    assert json.loads(body)["data"]["mal_id"] == 90001
    assert len(fakes.requests("jikan")) == 3
    assert http.stats.retries == 2 and http.stats.statuses == {500: 2, 200: 1}


async def test_a_provider_that_keeps_failing_fails_after_the_attempts(
    fakes: FakeProviders, make_settings: MakeSettings, open_http: OpenHttp
) -> None:
    settings = make_settings(enricher_max_attempts=3)
    fakes.fail("jikan", "error500")

    with pytest.raises(ProviderError) as failure:
        await open_http(settings).fetch(provider_limits(settings)["jikan"], "GET", jikan(settings))

    assert failure.value.reason == "server error (HTTP 500)" and failure.value.transient
    assert len(fakes.requests("jikan")) == 3


async def test_retry_after_pauses_every_process_then_the_call_succeeds(
    fakes: FakeProviders, enricher_settings: EnricherSettings, http: ProviderHttp
) -> None:
    limits = provider_limits(enricher_settings)["jikan"]
    fakes.fail("jikan", "ratelimit", times=1, retry_after_s=1)
    other_process = RedisLimits(
        enricher_settings.redis_url, key_prefix=enricher_settings.enricher_rate_limit_key_prefix
    )
    try:
        call = asyncio.create_task(http.fetch(limits, "GET", jikan(enricher_settings)))
        for _ in range(500):  # the first (rate-limited) request arrives
            if fakes.requests("jikan"):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # the 429 is answered and the block written
        seen_elsewhere = await other_process.acquire("jikan", limits.windows)
        body = await call
    finally:
        await other_process.close()

    assert seen_elsewhere.blocked and not seen_elsewhere.allowed
    assert json.loads(body)["data"]["mal_id"] == 90001
    first, second = fakes.requests("jikan")
    assert second.at - first.at >= 0.9, "the retry waited for Retry-After"


async def test_a_retry_after_beyond_the_wait_budget_fails_at_once(
    fakes: FakeProviders, enricher_settings: EnricherSettings, http: ProviderHttp
) -> None:
    fakes.fail("jikan", "ratelimit", retry_after_s=600)

    with pytest.raises(ProviderError) as failure:
        await http.fetch(provider_limits(enricher_settings)["jikan"], "GET", jikan(enricher_settings))

    assert "rate limited (HTTP 429, Retry-After 600s)" in failure.value.reason
    assert not failure.value.transient
    assert len(fakes.requests("jikan")) == 1


async def test_a_slow_provider_times_out(
    fakes: FakeProviders, make_settings: MakeSettings, open_http: OpenHttp
) -> None:
    settings = make_settings(enricher_timeout_seconds=0.3, enricher_max_attempts=2)
    fakes.fail("jikan", "timeout", delay_s=5)

    with pytest.raises(ProviderError) as failure:
        await open_http(settings).fetch(provider_limits(settings)["jikan"], "GET", jikan(settings))

    assert failure.value.reason == "timed out after 0.3s"
    assert len(fakes.requests("jikan")) == 2


async def test_not_found_is_not_retried(
    fakes: FakeProviders, enricher_settings: EnricherSettings, http: ProviderHttp
) -> None:
    with pytest.raises(ProviderNotFound):
        await http.fetch(
            provider_limits(enricher_settings)["jikan"], "GET", jikan(enricher_settings, "/anime/1/full")
        )
    assert len(fakes.requests("jikan")) == 1


async def test_an_oversized_answer_is_refused(
    fakes: FakeProviders, make_settings: MakeSettings, open_http: OpenHttp
) -> None:
    settings = make_settings(enricher_max_response_bytes=1024)
    with pytest.raises(ProviderError, match="answer larger than 1024 bytes"):
        await open_http(settings).fetch(provider_limits(settings)["jikan"], "GET", jikan(settings))


async def test_the_rate_limit_holds_across_processes(
    fakes: FakeProviders, make_settings: MakeSettings, open_http: OpenHttp
) -> None:
    settings = make_settings(enricher_jikan_per_second=2)
    limits = provider_limits(settings)["jikan"]
    one, two = open_http(settings), open_http(settings)
    calls = [(one, f"/anime/{n}/full") for n in (90001, 90002, 90003)]
    calls += [(two, f"/anime/{n}/characters") for n in (90001, 90002)]

    await asyncio.gather(*(process.fetch(limits, "GET", jikan(settings, path)) for process, path in calls))

    times = sorted(r.at for r in fakes.requests("jikan"))
    assert len(times) == 5
    # At most 2 calls in any one-second window, whichever process made them: unlimited, all five
    # would arrive within milliseconds. (Measured where they arrive, so with slack for transit.)
    assert times[-1] - times[0] >= 1.5
    assert all(later - earlier >= 0.5 for earlier, later in zip(times, times[2:], strict=False))


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    use_meter_provider(MeterProvider(metric_readers=[reader]))
    yield reader
    use_meter_provider(None)


def counts(reader: InMemoryMetricReader, name: str) -> dict[tuple[str, ...], int]:
    data = reader.get_metrics_data()
    found: dict[tuple[str, ...], int] = {}
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        found[tuple(str(v) for v in (point.attributes or {}).values())] = point.value
    return found


async def test_calls_throttles_and_cache_lookups_are_measured(
    fakes: FakeProviders,
    enricher_settings: EnricherSettings,
    http: ProviderHttp,
    reader: InMemoryMetricReader,
) -> None:
    limits = provider_limits(enricher_settings)["jikan"]
    fakes.fail("jikan", "ratelimit", times=1, retry_after_s=0.2)

    await http.fetch(limits, "GET", jikan(enricher_settings))
    await http.fetch(limits, "GET", jikan(enricher_settings))

    assert counts(reader, "avs.provider.calls") == {("jikan", "429"): 1, ("jikan", "200"): 1}
    throttles = counts(reader, "avs.provider.throttles")
    assert throttles[("jikan", "upstream")] == 1 and throttles[("jikan", "local")] >= 1
    assert counts(reader, "avs.cache.requests") == {("enricher-http", "miss"): 1, ("enricher-http", "hit"): 1}
