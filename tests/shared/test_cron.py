"""EventBridge schedule expressions and the local cron runner."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from avs_shared.runtime.cron import LocalCron, next_fire, parse
from avs_shared.topology import (
    S_CURATED_LISTS,
    S_DAILY_EPISODES,
    S_REVIEW_HEARTBEAT,
    S_WEEKLY_SNAPSHOT,
    S_WEEKLY_SYNC,
    TOPOLOGY,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


WED = utc(2024, 5, 15, 12, 0)  # a Wednesday


# --------------------------------------------------------------------------- the catalogue
@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        (S_WEEKLY_SYNC, WED, utc(2024, 5, 18, 1, 0)),  # next Saturday 01:00
        (S_WEEKLY_SYNC, utc(2024, 5, 18, 0, 59), utc(2024, 5, 18, 1, 0)),
        (S_WEEKLY_SYNC, utc(2024, 5, 18, 1, 0), utc(2024, 5, 25, 1, 0)),  # exactly at a firing: the next one
        (S_DAILY_EPISODES, WED, utc(2024, 5, 16, 0, 5)),
        (S_DAILY_EPISODES, utc(2024, 5, 16, 0, 4, 59), utc(2024, 5, 16, 0, 5)),
        (S_DAILY_EPISODES, utc(2024, 12, 31, 0, 5), utc(2025, 1, 1, 0, 5)),  # year rollover
        (S_WEEKLY_SNAPSHOT, WED, utc(2024, 5, 19, 3, 0)),  # Sunday 03:00
        (S_WEEKLY_SNAPSHOT, utc(2024, 5, 31, 23, 0), utc(2024, 6, 2, 3, 0)),  # month rollover
        (S_CURATED_LISTS, WED, utc(2024, 5, 16, 0, 0)),  # every 12 h from the epoch: 00:00, 12:00
        (S_CURATED_LISTS, utc(2024, 5, 15, 11, 59), utc(2024, 5, 15, 12, 0)),
    ],
)
def test_catalogue_schedules_fire_at_the_documented_instants(
    schedule: str, after: datetime, expected: datetime
) -> None:
    assert next_fire(TOPOLOGY.schedule(schedule).expression, after) == expected


def test_every_catalogue_expression_parses() -> None:
    for schedule in TOPOLOGY.schedules:
        parse(schedule.expression)


# --------------------------------------------------------------------------- cron semantics
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 1 ? * 7 *)", WED, utc(2024, 5, 18, 1, 0)),  # 7 = SAT (1 = SUN)
        ("cron(0 1 ? * 1 *)", WED, utc(2024, 5, 19, 1, 0)),  # 1 = SUN
        ("cron(0 9 ? * MON-FRI *)", utc(2024, 5, 17, 10, 0), utc(2024, 5, 20, 9, 0)),  # Fri -> Mon
        ("cron(*/15 * * * ? *)", utc(2024, 5, 15, 12, 7), utc(2024, 5, 15, 12, 15)),
        ("cron(10-20/5 3 * * ? *)", utc(2024, 5, 15, 3, 16), utc(2024, 5, 15, 3, 20)),
        ("cron(0 0,12 * * ? *)", utc(2024, 5, 15, 0, 0), utc(2024, 5, 15, 12, 0)),
        ("cron(0 0 31 * ? *)", utc(2024, 4, 1), utc(2024, 5, 31)),  # April has no 31st
        ("cron(0 0 29 FEB ? *)", utc(2023, 3, 1), utc(2024, 2, 29)),  # leap day
        ("cron(0 0 1 JAN ? 2030)", WED, utc(2030, 1, 1)),
        ("cron(0 0 L * ? *)", utc(2024, 2, 10), utc(2024, 2, 29)),  # last day of the month
        ("cron(0 0 15W * ? *)", utc(2024, 6, 1), utc(2024, 6, 14)),  # 15th is a Saturday -> Friday
        ("cron(0 0 1W * ? *)", utc(2024, 5, 31), utc(2024, 6, 3)),  # 1st is a Saturday -> Monday 3rd
        ("cron(0 0 ? * 6L *)", WED, utc(2024, 5, 31)),  # last Friday of May
        ("cron(0 0 ? * 2#1 *)", WED, utc(2024, 6, 3)),  # first Monday of June
        ("cron(0 1 ? * sat *)", WED, utc(2024, 5, 18, 1, 0)),  # names are case-insensitive
    ],
)
def test_cron_expressions(expression: str, after: datetime, expected: datetime) -> None:
    assert next_fire(expression, after) == expected


def test_after_is_converted_to_utc_and_the_result_is_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    got = next_fire("cron(5 0 * * ? *)", datetime(2024, 5, 16, 2, 4, tzinfo=plus_two))  # 00:04 UTC
    assert got == utc(2024, 5, 16, 0, 5)
    assert got.tzinfo == UTC


def test_rate_is_anchored_at_the_given_start() -> None:
    start = utc(2024, 5, 15, 10, 7)
    assert next_fire("rate(5 minutes)", start, anchor=start) == utc(2024, 5, 15, 10, 12)
    assert next_fire("rate(5 minutes)", utc(2024, 5, 15, 10, 12), anchor=start) == utc(2024, 5, 15, 10, 17)
    assert next_fire("rate(1 day)", utc(2024, 5, 1), anchor=start) == start  # before the anchor: the anchor
    assert next_fire("rate(1 hour)", utc(2024, 5, 15, 10, 30), anchor=start) == utc(2024, 5, 15, 11, 7)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("every day", "expected cron(...) or rate(...)"),
        ("cron(0 1 * * *)", "expected 6 fields"),
        ("cron(0 1 * * MON *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 1 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(60 1 * * ? *)", "minutes value 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours value 24 is outside 0-23"),
        ("cron(0 1 ? * 8 *)", "day-of-week value 8 is outside 1-7"),
        ("cron(0 1 ? * 0 *)", "day-of-week value 0 is outside 1-7"),
        ("cron(0 1 * FOO ? *)", "'FOO' is not a valid month value"),
        ("cron(0 1 * * ? 1969)", "year value 1969 is outside 1970-2199"),
        ("cron(0 5-1 * * ? *)", "range 5-1 runs backwards"),
        ("cron(*/0 1 * * ? *)", "step '0' in minutes must be a positive integer"),
        ("cron(? 1 * * ? *)", "'?' is only allowed in day-of-month or day-of-week"),
        ("cron(0 1 ? * 2#6 *)", "d#k with k in 1-5"),
        ("cron(0 1 1,L * ? *)", "unsupported"),
        ("rate(0 minutes)", "positive integer"),
        ("rate(5 weeks)", "unit must be minute(s), hour(s) or day(s)"),
        ("rate(1 hours)", "write rate(1 hour)"),
        ("rate(12 hour)", "write rate(12 hours)"),
        ("rate(twelve hours)", "expected rate(<positive integer> <unit>)"),
    ],
)
def test_invalid_expressions_raise_value_error_saying_why(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse(expression)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        next_fire("cron(5 0 * * ? *)", datetime(2024, 5, 15))


def test_an_expression_that_never_fires_again_says_so() -> None:
    with pytest.raises(ValueError, match="never fires"):
        next_fire("cron(0 0 1 1 ? 2020)", WED)


# --------------------------------------------------------------------------- LocalCron
class FakeClock:
    """Virtual time: when every schedule is asleep, the earliest wakes and time jumps to it.

    ``schedules`` is how many schedule loops share the clock; time never moves while
    one of them is still busy (running its job).
    """

    def __init__(self, start: datetime, schedules: int = 1) -> None:
        self.current = start
        self.schedules = schedules
        self.pending: list[datetime] = []

    def now(self) -> datetime:
        return self.current

    async def sleep_until(self, when: datetime, stop: asyncio.Event) -> bool:
        self.pending.append(when)
        try:
            while True:
                await asyncio.sleep(0)
                if stop.is_set():
                    return True
                if len(self.pending) == self.schedules and when == min(self.pending):
                    break
        finally:
            self.pending.remove(when)
        self.current = max(self.current, when)
        return False

    def advance(self, delta: timedelta) -> None:
        self.current += delta


async def test_local_cron_fires_each_schedule_at_its_due_times_and_survives_errors() -> None:
    clock = FakeClock(WED, schedules=2)
    stop = asyncio.Event()
    fired: dict[str, list[datetime]] = {"sync": [], "lists": []}

    async def weekly_sync(due: datetime) -> None:
        fired["sync"].append(due)
        if len(fired["sync"]) == 1:
            raise RuntimeError("the first run fails")  # logged, not fatal
        if len(fired["sync"]) == 3:
            stop.set()

    async def lists(due: datetime) -> None:
        fired["lists"].append(due)

    cron = LocalCron(
        [(TOPOLOGY.schedule(S_WEEKLY_SYNC), weekly_sync), (TOPOLOGY.schedule(S_CURATED_LISTS), lists)],
        clock=clock,
    )
    await asyncio.wait_for(cron.run(stop), timeout=5)

    assert fired["sync"] == [utc(2024, 5, 18, 1), utc(2024, 5, 25, 1), utc(2024, 6, 1, 1)]
    assert fired["lists"][:3] == [utc(2024, 5, 16, 0), utc(2024, 5, 16, 12), utc(2024, 5, 17, 0)]
    assert all(
        later - earlier == timedelta(hours=12) for earlier, later in itertools.pairwise(fired["lists"])
    )


async def test_local_cron_does_not_replay_a_firing_missed_before_start() -> None:
    # Started one minute after Saturday 01:00: that firing is gone, the next is a week later.
    clock = FakeClock(utc(2024, 5, 18, 1, 1))
    stop = asyncio.Event()
    fired: list[datetime] = []

    async def job(due: datetime) -> None:
        fired.append(due)
        stop.set()

    await asyncio.wait_for(LocalCron([(TOPOLOGY.schedule(S_WEEKLY_SYNC), job)], clock=clock).run(stop), 5)
    assert fired == [utc(2024, 5, 25, 1)]


async def test_a_slow_job_does_not_overlap_itself_and_skips_the_firings_it_ran_over() -> None:
    clock = FakeClock(utc(2024, 5, 15, 23, 59))
    stop = asyncio.Event()
    fired: list[datetime] = []

    async def slow(due: datetime) -> None:
        fired.append(due)
        clock.advance(timedelta(days=2, minutes=1))  # runs past the next two daily firings
        if len(fired) == 2:
            stop.set()

    await asyncio.wait_for(LocalCron([(TOPOLOGY.schedule(S_DAILY_EPISODES), slow)], clock=clock).run(stop), 5)
    # 16th 00:05 ran until 18th 00:06, so 17th and 18th 00:05 were skipped.
    assert fired == [utc(2024, 5, 16, 0, 5), utc(2024, 5, 19, 0, 5)]


async def test_stop_ends_a_waiting_cron_at_once() -> None:
    stop = asyncio.Event()

    async def never(due: datetime) -> None:
        raise AssertionError("must not fire")

    cron = LocalCron([(TOPOLOGY.schedule(S_WEEKLY_SYNC), never)])  # the real clock: a days-long sleep
    task = asyncio.create_task(cron.run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=1)


def test_next_fires_reports_each_schedule() -> None:
    async def job(due: datetime) -> None:
        return None

    cron = LocalCron([(s, job) for s in TOPOLOGY.schedules], clock=FakeClock(WED))
    assert cron.next_fires() == {
        S_WEEKLY_SYNC: utc(2024, 5, 18, 1),
        S_DAILY_EPISODES: utc(2024, 5, 16, 0, 5),
        S_WEEKLY_SNAPSHOT: utc(2024, 5, 19, 3),
        S_CURATED_LISTS: utc(2024, 5, 16, 0),
        S_REVIEW_HEARTBEAT: utc(2024, 5, 15, 18),
    }


async def test_on_stop_a_running_job_gets_its_grace_period_then_is_cancelled() -> None:
    clock = FakeClock(WED)
    stop = asyncio.Event()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck(due: datetime) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    cron = LocalCron([(TOPOLOGY.schedule(S_WEEKLY_SYNC), stuck)], clock=clock, grace_s=0.05)
    task = asyncio.create_task(cron.run(stop))
    await asyncio.wait_for(started.wait(), 1)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    assert cancelled.is_set()


async def test_on_stop_a_job_that_finishes_within_the_grace_period_completes() -> None:
    clock = FakeClock(WED)
    stop = asyncio.Event()
    finished: list[datetime] = []

    async def short(due: datetime) -> None:
        stop.set()  # stop arrives while the job still has work to do
        await asyncio.sleep(0.02)
        finished.append(due)

    cron = LocalCron([(TOPOLOGY.schedule(S_WEEKLY_SYNC), short)], clock=clock, grace_s=5)
    await asyncio.wait_for(cron.run(stop), timeout=1)
    assert finished == [utc(2024, 5, 18, 1)]
