"""The local schedule dispatcher: fires due one-time EventBridge Scheduler schedules.

Moto stores schedules but never fires them, so the all-in-one runner (``avs run``)
does it: :class:`ScheduleDispatcher` reads the schedules of the catalogue's schedule
groups through the Scheduler API (``ListSchedules``, ``GetSchedule``), and for every
enabled ``at(...)`` schedule whose time has come it sends the target's ``Input`` to
the target SQS queue as the message body (as EventBridge Scheduler does), then
deletes the schedule (``ActionAfterCompletion=DELETE``) or disables it (``NONE``).

Delivery is at least once, like the real service: a crash between the send and the
delete sends it again on the next pass, and consumers deduplicate by ``event_id``.
A schedule older than its target's ``RetryPolicy.MaximumEventAgeInSeconds`` is
dropped (deleted or disabled without sending), as EventBridge Scheduler drops it.
Recurring (``rate``/``cron``) schedules and non-SQS targets are left alone.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.topology import TOPOLOGY

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_DEFAULT_MAX_AGE_S = 24 * 3600


@dataclass(frozen=True)
class DueSchedule:
    """A one-time schedule as the dispatcher understands it."""

    group: str
    name: str
    due: datetime
    target_arn: str
    body: str
    max_age_s: int
    after_completion: str
    definition: dict[str, Any]


@dataclass
class DispatchReport:
    """What one pass did; names are ``group/name``."""

    delivered: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    pending: int = 0
    skipped: list[str] = field(default_factory=list)


def parse_at(expression: str, timezone: str | None = None) -> datetime | None:
    """The instant of an ``at(yyyy-mm-ddThh:mm:ss)`` expression in ``timezone`` (UTC by
    default); None for ``rate(...)``/``cron(...)`` and anything else."""
    match = _AT.match(expression.strip())
    if not match:
        return None
    try:
        zone = ZoneInfo(timezone) if timezone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("schedules.unknown_timezone", timezone=timezone, expression=expression)
        return None
    try:
        return datetime.fromisoformat(match[1]).replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        log.warning("schedules.impossible_time", expression=expression)
        return None


def _queue_name(arn: str) -> tuple[str, str] | None:
    """``(queue name, account)`` of an SQS ARN, else None."""
    parts = arn.split(":")
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "sqs":
        return parts[5], parts[4]
    return None


class ScheduleDispatcher:
    """Delivers due one-time schedules of ``groups`` to their SQS targets.

    Parameters
    ----------
    aws:
        The client factory.
    groups:
        Schedule groups to read; the catalogue's schedule groups by default.
    poll_interval_s:
        Time between passes in :meth:`run` (a schedule fires up to this late).
    clock:
        The current time (aware); tests pass their own.
    """

    def __init__(
        self,
        aws: AwsClients,
        *,
        groups: Sequence[str] | None = None,
        poll_interval_s: float = 15.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._aws = aws
        self._groups = list(groups) if groups is not None else [g.name for g in TOPOLOGY.schedule_groups]
        self._poll_s = poll_interval_s
        self._clock = clock or (lambda: datetime.now(UTC))
        # name -> (LastModificationDate, parsed schedule or None when it is not ours to fire)
        self._known: dict[str, tuple[str, DueSchedule | None]] = {}
        self._queue_urls: dict[str, str] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Pass after pass until ``stop`` is set; a failing pass is logged and retried."""
        log.info("schedules.dispatcher_started", groups=self._groups, poll_interval_s=self._poll_s)
        while not stop.is_set():
            try:
                report = await self.dispatch_due()
                if report.delivered or report.expired:
                    log.info(
                        "schedules.dispatched",
                        delivered=len(report.delivered),
                        expired=len(report.expired),
                        pending=report.pending,
                    )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("schedules.pass_failed", retry_in_s=self._poll_s)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._poll_s)
            except TimeoutError:
                continue

    async def dispatch_due(self, now: datetime | None = None) -> DispatchReport:
        """One pass: deliver every schedule due at ``now`` (default: the clock)."""
        moment = (now or self._clock()).astimezone(UTC)
        report = DispatchReport()
        seen: set[str] = set()
        for group in self._groups:
            for summary in await self._list(group):
                key = f"{group}/{summary['Name']}"
                seen.add(key)
                schedule = await self._read(group, summary, key)
                if schedule is None:
                    continue
                if schedule.due > moment:
                    report.pending += 1
                    continue
                if moment - schedule.due > timedelta(seconds=schedule.max_age_s):
                    log.warning("schedules.expired", schedule=key, due=schedule.due.isoformat())
                    report.expired.append(key)
                else:
                    await self._deliver(schedule, key)
                    report.delivered.append(key)
                await self._complete(schedule)
                self._known.pop(key, None)
        for key in set(self._known) - seen:
            del self._known[key]
        return report

    async def _list(self, group: str) -> list[dict[str, Any]]:
        scheduler = await self._aws.client("scheduler")
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"GroupName": group, "State": "ENABLED"}
        while True:
            try:
                page = await scheduler.list_schedules(**kwargs)
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    log.warning("schedules.group_missing", group=group)
                    return []
                raise
            found.extend(page.get("Schedules", []))
            token = page.get("NextToken")
            if not token:
                return found
            kwargs["NextToken"] = token

    async def _read(self, group: str, summary: dict[str, Any], key: str) -> DueSchedule | None:
        """The schedule's definition (cached until it is modified); None if not ours to fire."""
        stamp = str(summary.get("LastModificationDate", ""))
        cached = self._known.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        scheduler = await self._aws.client("scheduler")
        try:
            definition: dict[str, Any] = await scheduler.get_schedule(Name=summary["Name"], GroupName=group)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None  # deleted since it was listed
            raise
        parsed = self._parse(group, definition, key)
        self._known[key] = (stamp, parsed)
        return parsed

    def _parse(self, group: str, definition: dict[str, Any], key: str) -> DueSchedule | None:
        if definition.get("State", "ENABLED") != "ENABLED":
            return None
        due = parse_at(
            str(definition.get("ScheduleExpression", "")), definition.get("ScheduleExpressionTimezone")
        )
        if due is None:
            return None  # recurring: not a one-time schedule
        target: dict[str, Any] = definition.get("Target") or {}
        arn = str(target.get("Arn", ""))
        if _queue_name(arn) is None:
            log.warning("schedules.target_not_sqs", schedule=key, target=arn)
            return None
        retry: dict[str, Any] = target.get("RetryPolicy") or {}
        return DueSchedule(
            group=group,
            name=str(definition["Name"]),
            due=due,
            target_arn=arn,
            body=str(target.get("Input") or "{}"),
            max_age_s=int(retry.get("MaximumEventAgeInSeconds") or _DEFAULT_MAX_AGE_S),
            after_completion=str(definition.get("ActionAfterCompletion") or "NONE"),
            definition=definition,
        )

    async def _deliver(self, schedule: DueSchedule, key: str) -> None:
        sqs = await self._aws.client("sqs")
        url = await self._queue_url(schedule.target_arn)
        await sqs.send_message(QueueUrl=url, MessageBody=schedule.body)
        log.info(
            "schedules.delivered", schedule=key, due=schedule.due.isoformat(), queue=url.rsplit("/", 1)[-1]
        )

    async def _complete(self, schedule: DueSchedule) -> None:
        """Delete (``DELETE``) or disable (``NONE``) a fired schedule; already gone is fine."""
        scheduler = await self._aws.client("scheduler")
        try:
            if schedule.after_completion == "DELETE":
                await scheduler.delete_schedule(Name=schedule.name, GroupName=schedule.group)
                return
            d = schedule.definition
            kwargs: dict[str, Any] = {
                "Name": schedule.name,
                "GroupName": schedule.group,
                "ScheduleExpression": d["ScheduleExpression"],
                "FlexibleTimeWindow": d.get("FlexibleTimeWindow") or {"Mode": "OFF"},
                "Target": d["Target"],
                "State": "DISABLED",
            }
            for name in ("ScheduleExpressionTimezone", "Description", "ActionAfterCompletion"):
                if d.get(name):
                    kwargs[name] = d[name]
            await scheduler.update_schedule(**kwargs)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise

    async def _queue_url(self, arn: str) -> str:
        cached = self._queue_urls.get(arn)
        if cached is not None:
            return cached
        name_account = _queue_name(arn)
        assert name_account is not None  # checked when parsed
        name, account = name_account
        sqs = await self._aws.client("sqs")
        resp = await sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
        url = str(resp["QueueUrl"])
        self._queue_urls[arn] = url
        return url
