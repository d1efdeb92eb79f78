"""The Batcher merges concurrent requests into batch calls without changing what each caller gets;
and the ingestor's DynamoDB calls of concurrent events are merged (counted on the real client)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from image_testkit import ImageServer, MakeKit, png

from avs_image_ingestor.batching import Batcher
from avs_shared.errors import Permanent, Retryable
from avs_shared.events import ImageRequested, RequestedImage
from avs_shared.topology import T_ENRICHED, T_IMAGE_DEDUP


class Squares:
    """A batch call: key -> key squared; odd keys above 100 have no result; remembers each
    call's keys; can be held open; key 13 is refused (alone or in a batch)."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()
        self.failure: BaseException | None = None

    async def __call__(self, batch: dict[int, str]) -> dict[int, int]:
        self.calls.append(sorted(batch))
        self.started.set()
        await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        if 13 in batch:
            raise Permanent("13 is refused")
        return {k: k * k for k in batch if not (k > 100 and k % 2)}


async def test_concurrent_callers_share_one_call_and_get_their_own_results() -> None:
    run = Squares()
    batcher: Batcher[int, str, int] = Batcher(run, max_batch=100)

    results = await asyncio.gather(
        batcher.submit({1: "a", 2: "b"}), batcher.submit({2: "b", 3: "c"}), batcher.submit({101: "x"})
    )

    assert results == [{1: 1, 2: 4}, {2: 4, 3: 9}, {}], "a key without a result is left out"
    assert run.calls == [[1, 2, 3, 101]], "one call, each key once"
    assert batcher.calls == 1


async def test_keys_asked_for_during_a_call_go_into_the_next_one() -> None:
    run = Squares()
    batcher: Batcher[int, str, int] = Batcher(run, max_batch=3)
    run.gate.clear()
    first = asyncio.create_task(batcher.submit({1: "a"}))
    await run.started.wait()
    # Key 1 again while the call carrying it runs: it must be asked for again, later.
    later = [asyncio.create_task(batcher.submit({k: "l"})) for k in (1, 4, 5, 6, 7)]
    await asyncio.sleep(0)
    run.gate.set()

    assert await first == {1: 1}
    assert [await t for t in later] == [{1: 1}, {4: 16}, {5: 25}, {6: 36}, {7: 49}]
    assert run.calls == [[1], [1, 4, 5], [6, 7]], "in order, at most max_batch keys per call"


async def test_a_bad_key_fails_only_its_callers() -> None:
    run = Squares()
    batcher: Batcher[int, str, int] = Batcher(run, max_batch=100)

    good, bad = await asyncio.gather(
        batcher.submit({1: "a", 2: "b"}), batcher.submit({13: "x"}), return_exceptions=True
    )

    assert good == {1: 1, 2: 4}
    assert isinstance(bad, Permanent)
    assert run.calls == [[1, 2, 13], [1], [2], [13]], "the failed batch split key by key"


async def test_a_throttled_batch_fails_all_its_callers_without_splitting() -> None:
    run = Squares()
    run.failure = Retryable("throttled", retry_after_s=1)
    batcher: Batcher[int, str, int] = Batcher(run, max_batch=100)

    outcomes = await asyncio.gather(
        batcher.submit({1: "a"}), batcher.submit({2: "b"}), return_exceptions=True
    )

    assert all(isinstance(o, Retryable) for o in outcomes)
    assert run.calls == [[1, 2]]


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    run = Squares()
    batcher: Batcher[int, str, int] = Batcher(run, max_batch=100)
    run.gate.clear()
    leaving = asyncio.create_task(batcher.submit({1: "a"}))
    staying = asyncio.create_task(batcher.submit({1: "a", 2: "b"}))
    await run.started.wait()
    leaving.cancel()
    await asyncio.sleep(0)
    run.gate.set()

    assert await staying == {1: 1, 2: 4}
    with pytest.raises(asyncio.CancelledError):
        await leaving


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(Squares(), max_batch=0)


async def test_the_dynamodb_calls_of_concurrent_events_are_merged(
    make: MakeKit, image_server: ImageServer
) -> None:
    kit = make()
    ddb = await kit.aws.client("dynamodb")
    calls: list[tuple[str, dict[str, int]]] = []

    def record(event_name: str, params: dict[str, Any], **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            requests = params["RequestItems"].items()
            sizes = {table: len(r["Keys"] if "Keys" in r else r) for table, r in requests}
            calls.append((operation, sizes))
        else:
            calls.append((operation, {}))

    ddb.meta.events.register("before-parameter-build.dynamodb", record)
    try:
        urls = [image_server.image(f"/m/{n}.png", png(900 + n)) for n in range(32)]
        events = [
            ImageRequested(anime_id=f"anime-{n}", images=[RequestedImage(url=u, kind="cover") for u in part])
            for n, part in enumerate(urls[i::8] for i in range(8))
        ]
        reports = await asyncio.gather(*(kit.ingestor.ingest(e) for e in events))
    finally:
        ddb.meta.events.unregister("before-parameter-build.dynamodb", record)

    assert sorted(o.action for r in reports for o in r.outcomes) == ["stored"] * 32
    assert (await kit.images.lookup_many(urls)).keys() == set(urls), "every URL is in the map"
    # Alone, the 8 events would make 8 lookups of 4 URLs each; started together, they make one.
    assert calls[0] == ("BatchGetItem", {T_IMAGE_DEDUP: 32})
    lookups = [sizes for op, sizes in calls if op == "BatchGetItem" and T_IMAGE_DEDUP in sizes]
    assert len(lookups) == 1
    writes = [sizes[T_IMAGE_DEDUP] for op, sizes in calls if op == "BatchWriteItem"]
    assert sum(writes) == 32 and all(n <= 25 for n in writes)
    entry_reads = [sizes[T_ENRICHED] for op, sizes in calls if op == "BatchGetItem" and T_ENRICHED in sizes]
    assert sum(entry_reads) == 8, "each entry read once, in batches"
    assert not [op for op, _ in calls if op == "GetItem"]
