"""DynamoEntryStore against the real moto server (DynamoDB + S3 for overflow)."""

from __future__ import annotations

import contextlib
import copy
import itertools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import JsonValue

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_codec import from_attribute, parse_path, project, to_attribute
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.s3 import S3ObjectStore
from avs_shared.errors import Conflict, NotFound, Permanent, Retryable
from avs_shared.ports.entries import EntryStore
from avs_shared.schema import AnimeEntry, SystemStatus
from avs_shared.settings import ServiceSettings
from avs_shared.topology import BUCKET, T_ENRICHED

PREFIX = "entries-overflow/"


class TickingClock:
    """``updated_at`` source: one second later on every call."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> datetime:
        return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) + timedelta(seconds=next(self._ticks))


def make_store(aws: AwsClients, **kwargs: Any) -> DynamoEntryStore:
    return DynamoEntryStore(aws, objects=S3ObjectStore(aws, BUCKET), clock=TickingClock(), **kwargs)


def as_port(store: DynamoEntryStore) -> EntryStore:
    return store  # mypy checks here that the adapter, overloads included, satisfies the port


@pytest.fixture
def store(provisioned: Provisioner, aws: AwsClients) -> DynamoEntryStore:
    return make_store(aws)


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def minimal(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": uid(n), "title": f"Anime {n}", "type": "TV", "status": "FINISHED", "sources": [], **extra}


def rich_json(n: int = 1) -> dict[str, Any]:
    """Every shape the schema knows plus unknown fields, awkward floats and reserved words."""
    return {
        "id": uid(n),
        "title": "Hoshizora Relay",
        "type": "TV",
        "status": "FINISHED",
        "episodes": 2,
        "sources": ["https://myanimelist.net/anime/990001", "https://anilist.co/anime/990002"],
        "background": "",
        "year": 2021,
        "season": "SPRING",
        "synopsis": "Three runners chase a record — 星空 under the stars.",
        "title_japanese": "星空リレー",
        "genres": ["Sports", "Drama"],
        "tags": [],
        "characters": [
            {
                "name": "Aoi Hoshino",
                "role": "Main",
                "age": 16,
                "images": ["https://img.example.org/aoi.png"],
                "voice_actors": [{"name": "Rie Takahashi", "language": "Japanese"}],
                "character_ids": {"anilist": 136984, "mal": "a-1"},
                "character_pages": {},
            }
        ],
        "episode_details": [
            {
                "episode_number": 1,
                "title": "Start",
                "aired": "2021-04-02T15:00:00Z",
                "score": 4.56,
                "thumbnails": [],
                "streaming": {"crunchyroll": {"free": True, "regions": ["US", ""]}},
            },
            {"episode_number": 2, "aired": "2021-04-10T00:00:00+09:00", "filler": False},
        ],
        "images": {
            "covers": ["https://img.example.org/c0.jpg", "https://img.example.org/c1.jpg"],
            "posters": [{"image_url": "https://bad.example.org/p.jpg", "error_message": "HTTP 404"}],
        },
        "score": {"arithmetic_geometric_mean": 8.78, "arithmetic_mean": 0.1 + 0.2, "median": 7.0},
        "statistics": {
            "mal": {"score": 8.78, "scored_by": 123456, "rank": 12, "members": 10**9},
            "anilist": {
                "score": 8.1,
                "contextual_ranks": [{"rank": 18, "type": "POPULAR", "year": 2021, "all_time": False}],
            },
        },
        "staff_data": {
            "production_staff": {"director": [{"name": "Jun Ito", "staff_ids": {"mal": 1}}]},
            "studios": [{"name": "Studio Star", "type": "animation", "url": None}],
        },
        "aired_dates": {"from": "2021-04-02T15:00:00Z", "to": None, "string": "Apr 2021"},
        "external_links": {},
        "popularity_trends": {"weekly": [1.5, 2.25, 1e-7], "size": 3, "data": {"name": "x"}},
        "episode_overrides": {"12": {"title": "Finale", "score": 9.15, "nested": [[1, 2.5], [], {}]}},
        "name": "unknown top-level field named like a reserved word",
    }


def without_system(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("version", "updated_at")}


async def raw_item(aws: AwsClients, anime_id: str) -> dict[str, Any]:
    ddb = await aws.client("dynamodb")
    resp = await ddb.get_item(TableName=T_ENRICHED, Key={"anime_id": {"S": anime_id}}, ConsistentRead=True)
    item: dict[str, Any] = resp.get("Item", {})
    return item


async def overflow_keys(aws: AwsClients) -> list[str]:
    s3 = await aws.client("s3")
    resp = await s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)
    return sorted(str(o["Key"]) for o in resp.get("Contents", []))


# --- round trip and codec --------------------------------------------------------------


async def test_rich_entry_round_trips_exactly_as_native_attributes(
    store: DynamoEntryStore, aws: AwsClients
) -> None:
    source = rich_json()
    port = as_port(store)
    stored = await port.put(AnimeEntry.from_json_dict(copy.deepcopy(source)), expected_version=None)

    got = await port.get(uid(1))

    assert got is not None
    assert got.to_json_dict() == stored.to_json_dict()
    assert got.to_json_dict() == {
        **source,
        "system_status": "ACTIVE",
        "version": 1,
        "updated_at": "2026-01-02T03:04:05Z",
    }
    assert got.statistics["mal"].score == 8.78 and got.score is not None
    assert got.score.arithmetic_mean == 0.1 + 0.2
    item = await raw_item(aws, uid(1))
    assert item["anime_id"] == {"S": uid(1)} and item["system_status"] == {"S": "ACTIVE"}
    assert item["statistics"]["M"]["mal"]["M"]["score"] == {"N": "8.78"}  # a map, not a JSON string
    assert item["background"] == {"S": ""}


@pytest.mark.parametrize(
    "value",
    [
        8.78,
        0.1 + 0.2,
        1e-7,
        1.5e120,
        -2.5e-120,
        -0.0,
        123456789012345678901234567890,
        "",
        [],
        {},
        None,
        True,
        [{"a": [1.25]}],
    ],
)
def test_codec_keeps_json_values(value: object) -> None:
    assert from_attribute(to_attribute(value)) == value


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1.5e300, 1e-200, 10**40, {"": 1}, b"bytes"])
def test_codec_rejects_what_dynamodb_cannot_hold(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        to_attribute(value)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ({"a": [1, {"b": float("nan")}]}, ValueError, "$.a[1].b: nan is not a JSON number"),
        ({"a": {"": 1}}, ValueError, "$.a: map keys must be non-empty strings, got ''"),
        ([1, 2, b"x"], TypeError, "$[2]: bytes is not a JSON value"),
        ({"k": [{"z": 10**40}]}, ValueError, "$.k[0].z: 1" + "0" * 40 + " has more than 38 digits"),
    ],
)
def test_codec_errors_name_the_path_to_the_bad_value(
    value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        to_attribute(value)
    assert str(raised.value).startswith(message)


# --- projections ----------------------------------------------------------------------


async def test_projection_of_top_level_nested_and_reserved_word_paths(store: DynamoEntryStore) -> None:
    await store.put(AnimeEntry.from_json_dict(rich_json()), expected_version=None)

    got = await store.get(
        uid(1),
        fields=[
            "title",
            "genres",
            "score",
            "statistics.mal.score",
            "images.covers[1]",
            "status",
            "year",
            "type",
            "name",
            "popularity_trends.size",
            "popularity_trends.data.name",
            "no_such_field",
        ],
    )

    assert got == {
        "id": uid(1),
        "title": "Hoshizora Relay",
        "genres": ["Sports", "Drama"],
        "score": {"arithmetic_geometric_mean": 8.78, "arithmetic_mean": 0.1 + 0.2, "median": 7.0},
        "statistics": {"mal": {"score": 8.78}},
        "images": {"covers": ["https://img.example.org/c1.jpg"]},
        "status": "FINISHED",
        "year": 2021,
        "type": "TV",
        "name": "unknown top-level field named like a reserved word",
        "popularity_trends": {"size": 3, "data": {"name": "x"}},
    }
    assert await store.get(uid(2), fields=["title"]) is None


async def test_overlapping_projection_paths_collapse_to_the_outer_one(store: DynamoEntryStore) -> None:
    await store.put(AnimeEntry.from_json_dict(rich_json()), expected_version=None)

    got = await store.get(uid(1), fields=["statistics.mal.score", "statistics", "id"])

    assert got is not None and got["statistics"] == rich_json()["statistics"]


@pytest.mark.parametrize(
    "bad",
    [
        "title;drop",
        "a..b",
        "#x",
        "",
        "statistics.mal score",
        "1abc",
        "a[x]",
        ":v0",
        "_avs_overflow",
        "a.b[0]]",
    ],
)
async def test_unsafe_field_names_raise_value_error(store: DynamoEntryStore, bad: str) -> None:
    with pytest.raises(ValueError, match="field path"):
        await store.get(uid(1), fields=["title", bad])


async def test_projection_is_the_same_for_inline_and_overflowed_fields(
    store: DynamoEntryStore, aws: AwsClients
) -> None:
    def padded(n: int) -> dict[str, Any]:
        doc = rich_json(n)
        doc["characters"][0]["description"] = "d" * 2_000
        doc["episode_details"][0]["synopsis"] = "s" * 2_000
        return doc

    tiny = make_store(aws, overflow_threshold_bytes=2_000)  # moves episode_details, then characters
    await store.put(AnimeEntry.from_json_dict(padded(1)), expected_version=None)
    await tiny.put(AnimeEntry.from_json_dict(padded(2)), expected_version=None)
    assert "characters" in (await raw_item(aws, uid(2)))["_avs_overflow"]["M"]
    fields = [
        "episode_details[1].aired",
        "episode_details[0].title",
        "episode_details[0].streaming.crunchyroll.regions[1]",
        "characters[0].voice_actors[0].name",
        "characters[3].name",
        "title",
    ]

    inline = await store.get(uid(1), fields=fields)
    overflowed = await tiny.get(uid(2), fields=fields)

    expected = {
        "title": "Hoshizora Relay",
        "episode_details": [
            {"title": "Start", "streaming": {"crunchyroll": {"regions": [""]}}},
            {"aired": "2021-04-10T00:00:00+09:00"},
        ],
        "characters": [{"voice_actors": [{"name": "Rie Takahashi"}]}],
    }
    assert inline == {"id": uid(1), **expected}
    assert overflowed == {"id": uid(2), **expected}


def test_local_projection_has_dynamodb_shape() -> None:
    doc: dict[str, JsonValue] = {
        "a": {"b": [{"c": 1, "d": 2}, {"c": 3}, {"c": 5}], "e": "x"},
        "f": [[1, 2], [3]],
    }
    paths = [parse_path(p) for p in ("a.b[0].c", "a.b[2]", "a.missing", "f[1][0]", "f[9]", "g")]

    assert project(doc, paths) == {"a": {"b": [{"c": 1}, {"c": 5}]}, "f": [[3]]}


# --- batches ----------------------------------------------------------------------------


async def test_batch_put_over_25_and_batch_get_over_100_keep_order_and_skip_missing(
    store: DynamoEntryStore,
) -> None:
    entries = [AnimeEntry.from_json_dict(minimal(n, year=2000 + n % 20, score=None)) for n in range(130)]
    await store.batch_put(entries)
    ids = [uid(n) for n in range(130)] + [uid(n) for n in range(1000, 1020)]
    random.Random(7).shuffle(ids)

    got = await store.batch_get(ids)
    projected = await store.batch_get(ids, fields=["year"])

    present = [i for i in ids if int(i[-12:]) < 130]
    assert [e.id for e in got] == present
    by_id = {e.id: e for e in entries}
    assert all(e.to_json_dict() == {**by_id[e.id].to_json_dict(), "system_status": "ACTIVE"} for e in got)
    assert projected == [{"id": i, "year": 2000 + int(i[-12:]) % 20} for i in present]


class FlakyDynamo:
    """The real moto client, except that batch calls leave half their work unprocessed
    for ``rounds`` calls, and ``throttle`` operations fail with a throttling error."""

    def __init__(self, real: Any, *, rounds: int = 0, throttle: tuple[str, ...] = ()) -> None:
        self._real = real
        self.rounds = rounds
        self.throttle = throttle
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        if name in self.throttle:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, name
            )
        return getattr(self._real, name)

    async def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls["batch_write_item"] += 1
        ((table, requests),) = RequestItems.items()
        keep, later = self._split(requests)
        await self._real.batch_write_item(RequestItems={table: keep})
        return {"UnprocessedItems": {table: later} if later else {}}

    async def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls["batch_get_item"] += 1
        ((table, request),) = RequestItems.items()
        keep, later = self._split(request["Keys"])
        resp: dict[str, Any] = await self._real.batch_get_item(
            RequestItems={table: {**request, "Keys": keep}}
        )
        resp["UnprocessedKeys"] = {table: {**request, "Keys": later}} if later else {}
        return resp

    def _split(self, work: list[Any]) -> tuple[list[Any], list[Any]]:
        if self.rounds <= 0 or len(work) < 2:
            return work, []
        self.rounds -= 1
        return work[: len(work) // 2], work[len(work) // 2 :]


class FlakyAws(AwsClients):
    def __init__(self, settings: ServiceSettings, real: AwsClients, dynamo: FlakyDynamo) -> None:
        super().__init__(settings)
        self._real = real
        self.dynamo = dynamo

    async def client(self, service: str) -> Any:
        return self.dynamo if service == "dynamodb" else await self._real.client(service)


async def flaky(settings: ServiceSettings, aws: AwsClients, **kwargs: Any) -> FlakyAws:
    return FlakyAws(settings, aws, FlakyDynamo(await aws.client("dynamodb"), **kwargs))


async def test_unprocessed_batch_work_is_retried_until_done(
    provisioned: Provisioner, aws: AwsClients, settings: ServiceSettings
) -> None:
    fake = await flaky(settings, aws, rounds=3)
    store = make_store(fake, backoff_base_s=0.001)
    entries = [AnimeEntry.from_json_dict(minimal(n)) for n in range(20)]
    await store.batch_put(entries)
    write_calls = fake.dynamo.calls["batch_write_item"]
    fake.dynamo.rounds = 3
    got = await store.batch_get([e.id for e in entries])

    assert write_calls == 4  # 20 -> 10 left -> 5 left -> 3 left -> done
    assert fake.dynamo.calls["batch_get_item"] == 4
    assert [e.id for e in got] == [e.id for e in entries]


async def test_batch_gives_up_with_retryable_after_bounded_attempts(
    provisioned: Provisioner, aws: AwsClients, settings: ServiceSettings
) -> None:
    fake = await flaky(settings, aws, rounds=100)
    store = make_store(fake, backoff_base_s=0.001, max_batch_attempts=3)
    with pytest.raises(Retryable, match="unprocessed"):
        await store.batch_put([AnimeEntry.from_json_dict(minimal(n)) for n in range(10)])
    assert fake.dynamo.calls["batch_write_item"] == 3


async def test_throttling_becomes_retryable(
    provisioned: Provisioner, aws: AwsClients, settings: ServiceSettings
) -> None:
    fake = await flaky(settings, aws, throttle=("get_item",))
    with pytest.raises(Retryable) as caught:
        await make_store(fake).get(uid(1))
    assert isinstance(caught.value.__cause__, ClientError)


# --- versioned writes -------------------------------------------------------------------


async def test_create_then_update_with_the_right_version(store: DynamoEntryStore) -> None:
    first = await store.put(AnimeEntry.from_json_dict(minimal(1)), expected_version=None)
    second = await store.put(AnimeEntry.from_json_dict(minimal(1, title="Renamed")), expected_version=1)

    got = await store.get(uid(1))
    assert (first.version, second.version) == (1, 2)
    assert got is not None and got.title == "Renamed" and got.version == 2
    assert got.updated_at == datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)
    with pytest.raises(Conflict, match="expected no entry"):
        await store.put(AnimeEntry.from_json_dict(minimal(1)), expected_version=None)
    with pytest.raises(Conflict, match="does not exist"):
        await store.put(AnimeEntry.from_json_dict(minimal(2)), expected_version=3)


async def test_stale_write_never_overwrites_a_newer_entry(store: DynamoEntryStore) -> None:
    await store.put(AnimeEntry.from_json_dict(minimal(1)), expected_version=None)
    await store.put(AnimeEntry.from_json_dict(minimal(1, title="Newer")), expected_version=1)

    with pytest.raises(Conflict, match="at version 2"):
        await store.put(AnimeEntry.from_json_dict(minimal(1, title="Stale")), expected_version=1)

    got = await store.get(uid(1))
    assert got is not None and (got.title, got.version) == ("Newer", 2)


async def test_replayed_put_is_a_no_op_success(store: DynamoEntryStore) -> None:
    created = await store.put(AnimeEntry.from_json_dict(rich_json()), expected_version=None)
    replayed_create = await store.put(AnimeEntry.from_json_dict(rich_json()), expected_version=None)
    updated = await store.put(AnimeEntry.from_json_dict({**rich_json(), "year": 2022}), expected_version=1)
    replayed = await store.put(AnimeEntry.from_json_dict({**rich_json(), "year": 2022}), expected_version=1)

    assert replayed_create.to_json_dict() == created.to_json_dict()
    assert replayed.to_json_dict() == updated.to_json_dict()  # same version and updated_at: nothing written
    got = await store.get(uid(1))
    assert got is not None and (got.version, got.year) == (2, 2022)
    assert got.updated_at == updated.updated_at


# --- update_fields ----------------------------------------------------------------------


async def test_orphaning_and_resurrection_with_update_fields(store: DynamoEntryStore) -> None:
    await store.put(AnimeEntry.from_json_dict(minimal(1)), expected_version=None)

    v2 = await store.update_fields(
        uid(1), {"system_status": "ORPHANED", "orphaned_at": datetime(2026, 3, 1, tzinfo=UTC)}
    )
    orphaned = await store.get(uid(1))
    v3 = await store.update_fields(uid(1), {"system_status": SystemStatus.ACTIVE}, remove=["orphaned_at"])
    active = await store.get(uid(1))

    assert (v2, v3) == (2, 3)
    assert orphaned is not None and orphaned.system_status is SystemStatus.ORPHANED
    assert orphaned.to_json_dict()["orphaned_at"] == "2026-03-01T00:00:00Z"
    assert active is not None and active.orphaned_at is None and "orphaned_at" not in active.to_json_dict()
    with pytest.raises(Conflict, match="does not exist"):
        await store.update_fields(uid(9), {"system_status": "ORPHANED"})


async def test_update_fields_replaces_one_list_element_with_compare_and_set(store: DynamoEntryStore) -> None:
    await store.put(AnimeEntry.from_json_dict(rich_json()), expected_version=None)
    old = "https://img.example.org/c0.jpg"
    cdn = "https://cdn.example.org/images/abc.jpg"

    await store.update_fields(uid(1), {"images.covers[0]": cdn}, expect={"images.covers[0]": old})

    got = await store.get(uid(1), fields=["images", "version"])
    assert got == {
        "id": uid(1),
        "version": 2,
        "images": {**rich_json()["images"], "covers": [cdn, "https://img.example.org/c1.jpg"]},
    }
    with pytest.raises(Conflict, match="no longer matches"):
        await store.update_fields(uid(1), {"images.covers[0]": "x"}, expect={"images.covers[0]": old})
    with pytest.raises(Conflict):  # past the end: DynamoDB would append, the store refuses
        await store.update_fields(uid(1), {"images.covers[5]": "x"})
    full = await store.get(uid(1))
    assert full is not None and full.images.covers == [cdn, "https://img.example.org/c1.jpg"]


async def test_update_fields_is_not_lost_to_a_concurrent_put(store: DynamoEntryStore) -> None:
    read = await store.put(AnimeEntry.from_json_dict(minimal(1)), expected_version=None)
    await store.update_fields(uid(1), {"system_status": "ORPHANED"})  # lands between read and write

    with pytest.raises(Conflict):
        await store.put(read.model_copy(update={"title": "From the old read"}), expected_version=read.version)

    got = await store.get(uid(1))
    assert got is not None and got.system_status is SystemStatus.ORPHANED and got.title == "Anime 1"


@pytest.mark.parametrize(
    ("set_", "remove"),
    [
        ({"version": 9}, []),
        ({"id": "x"}, []),
        ({"_avs_overflow": 1}, []),
        ({}, ["updated_at"]),
        ({"system_status": "GONE"}, []),
        ({}, ["system_status"]),
        ({"images": {}, "images.covers[0]": "x"}, []),
        ({}, []),
    ],
)
async def test_update_fields_rejects_bad_paths(
    store: DynamoEntryStore, set_: dict[str, object], remove: list[str]
) -> None:
    with pytest.raises(ValueError):
        await store.update_fields(uid(1), set_, remove)


# --- GSI query and parallel scan ----------------------------------------------------------


async def test_query_by_status_follows_every_page(store: DynamoEntryStore) -> None:
    await store.batch_put(
        [
            AnimeEntry.from_json_dict(minimal(n, system_status="ORPHANED" if n % 3 == 0 else "ACTIVE"))
            for n in range(30)
        ]
    )

    orphaned = [e async for e in store.query_by_status(SystemStatus.ORPHANED, page_size=3)]
    titles = [d async for d in store.query_by_status("ORPHANED", fields=["title"], page_size=4)]

    assert sorted(e.id for e in orphaned) == [uid(n) for n in range(0, 30, 3)]
    assert all(e.system_status is SystemStatus.ORPHANED for e in orphaned)
    assert sorted(titles, key=lambda d: str(d["id"])) == [
        {"id": uid(n), "title": f"Anime {n}"} for n in range(0, 30, 3)
    ]


async def test_parallel_scan_returns_every_item_exactly_once(store: DynamoEntryStore) -> None:
    await store.batch_put([AnimeEntry.from_json_dict(minimal(n)) for n in range(60)])

    seen = Counter([e.id async for e in store.scan(segments=4, page_size=5)])
    projected = [d async for d in store.scan(3, fields=["title"])]

    assert seen == Counter(uid(n) for n in range(60))
    assert sorted(str(d["id"]) for d in projected) == [uid(n) for n in range(60)]


async def test_closing_a_scan_early_cancels_its_segment_readers(store: DynamoEntryStore) -> None:
    await store.batch_put([AnimeEntry.from_json_dict(minimal(n)) for n in range(20)])
    async with contextlib.aclosing(store.scan(segments=4, page_size=1)) as scan:
        async for _ in scan:
            break
    assert len([e async for e in store.scan(segments=2)]) == 20


# --- overflow of very large entries ---------------------------------------------------------


def long_running_json(n: int, episodes: int = 2000) -> dict[str, Any]:
    synopsis = "The crew sails on; a storm, a duel, an old promise kept and a new one made. " * 4
    return {
        **rich_json(n),
        "episodes": episodes,
        "episode_details": [
            {
                "episode_number": e,
                "title": f"Episode {e}: The Long Voyage",
                "title_japanese": f"第{e}話 長い航海",
                "title_romaji": f"Dai {e} Wa Nagai Koukai",
                "synopsis": synopsis[:300],
                "aired": f"{1999 + e // 52}-{1 + e % 12:02d}-{1 + e % 28:02d}T15:00:00Z",
                "score": round(7 + (e % 300) / 100, 2),
                "thumbnails": [f"https://img.example.org/ep/{e}.jpg"],
                "episode_pages": {"mal": f"https://myanimelist.net/anime/21/episode/{e}"},
            }
            for e in range(1, episodes + 1)
        ],
    }


async def test_2000_episode_entry_round_trips_through_overflow(
    store: DynamoEntryStore, aws: AwsClients
) -> None:
    source = long_running_json(1)

    stored = await store.put(AnimeEntry.from_json_dict(copy.deepcopy(source)), expected_version=None)

    item = await raw_item(aws, uid(1))
    assert "episode_details" not in item and "episode_details" in item["_avs_overflow"]["M"]
    assert "characters" in item  # moved only as far as needed
    keys = await overflow_keys(aws)
    assert len(keys) == 1 and keys[0].startswith(f"{PREFIX}{uid(1)}/v1/episode_details-")
    got = await store.get(uid(1))
    assert got is not None
    assert got.to_json_dict() == stored.to_json_dict()
    assert without_system(got.to_json_dict()) == {**source, "system_status": "ACTIVE"}
    (from_batch,) = await store.batch_get([uid(1)])
    from_scan = [e async for e in store.scan(2)]
    assert from_batch.to_json_dict() == stored.to_json_dict() == from_scan[0].to_json_dict()
    projected = await store.get(uid(1), fields=["title", "episode_details[1999].title", "episodes"])
    assert projected == {
        "id": uid(1),
        "title": "Hoshizora Relay",
        "episodes": 2000,
        "episode_details": [{"title": "Episode 2000: The Long Voyage"}],
    }


async def test_replacing_an_overflowed_entry_swaps_its_objects(
    store: DynamoEntryStore, aws: AwsClients
) -> None:
    await store.put(AnimeEntry.from_json_dict(long_running_json(1)), expected_version=None)
    before = await raw_item(aws, uid(1))

    updated = long_running_json(1, episodes=2001)
    await store.put(AnimeEntry.from_json_dict(updated), expected_version=1)
    await store.put(AnimeEntry.from_json_dict(updated), expected_version=1)  # replay keeps them
    with pytest.raises(Conflict):
        await store.put(AnimeEntry.from_json_dict(long_running_json(1, 1999)), expected_version=1)

    keys = await overflow_keys(aws)
    assert len(keys) == 1 and keys[0].startswith(f"{PREFIX}{uid(1)}/v2/episode_details-")
    got = await store.get(uid(1))
    assert got is not None and len(got.episode_details) == 2001
    # A reader that read the old item before the write follows the new pointers.
    reread = await store._decode(before, None)
    assert isinstance(reread, AnimeEntry) and len(reread.episode_details) == 2001


async def test_update_fields_refuses_paths_inside_an_overflowed_field(store: DynamoEntryStore) -> None:
    await store.put(AnimeEntry.from_json_dict(long_running_json(1)), expected_version=None)

    with pytest.raises(Permanent, match="put"):
        await store.update_fields(uid(1), {"episode_details[0].title": "x"})
    await store.update_fields(uid(1), {"title": "Still fine"})


async def test_a_dangling_overflow_pointer_is_a_permanent_error(
    store: DynamoEntryStore, aws: AwsClients
) -> None:
    await store.put(AnimeEntry.from_json_dict(long_running_json(1)), expected_version=None)
    objects = S3ObjectStore(aws, BUCKET)
    (key,) = await overflow_keys(aws)
    await objects.delete(key)

    with pytest.raises(Permanent, match="missing overflow object"):
        await store.get(uid(1))
    with pytest.raises(NotFound):
        await objects.get(key)
