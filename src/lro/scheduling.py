"""Schedules as users declare them (HTTP-CONTRACT §16), over HTTP or with
`lro.schedule(...)`: validated here once (a 422 names the field), turned into the stored
`Schedule`, and, at each firing, into the job to submit. Firing itself is the
`Scheduler`'s (lro.worker.scheduler); when a schedule is due is lro.timing's."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lro.errors import NotSupported, Unprocessable
from lro.labels import check_tags
from lro.models import NewJob
from lro.store import Schedule
from lro.store.base import Schedules
from lro.submission import check_callback_url, validate_params
from lro.timing import check_cron, next_run, zone

if TYPE_CHECKING:
    from lro.runtime import Runtime

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
OVERLAPS = ("skip", "allow")
MAX_INTERVAL_SECONDS = 366 * 86_400
"""A year and a day: longer periods are a cron's job, and no date arithmetic overflows."""


def _refuse(field: str, detail: str) -> Unprocessable:
    return Unprocessable(
        f"/{field}: {detail}",
        extensions={"errors": [{"pointer": f"/{field}", "detail": detail}]},
    )


def schedules_of(lro: Runtime) -> Schedules:
    part = lro.store.schedules
    if part is None:
        raise NotSupported(
            "This server's job store does not support schedules (HTTP-CONTRACT §19); "
            "use an SQLite or PostgreSQL store."
        )
    return part


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A schedule as declared: every field as given (checked by `build`)."""

    operation: Any = None
    params: Any = None
    schedule_id: Any = None
    cron: Any = None
    interval_seconds: Any = None
    timezone: Any = "UTC"
    overlap: Any = "skip"
    paused: Any = False
    tags: Any = None
    callback_url: Any = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ScheduleSpec:
        known = {f for f in cls.__dataclass_fields__}
        extra = sorted(set(body) - known)
        if extra:
            raise _refuse(extra[0], "unknown field")
        return cls(**{k: v for k, v in body.items() if v is not None or k == "params"})


async def build(
    lro: Runtime, spec: ScheduleSpec, owner: str, now: datetime, existing: Schedule | None = None
) -> Schedule:
    """The `Schedule` to store for `spec`; 422 for any invalid field. A new schedule's
    first due time: one interval from now, or the cron's next match."""
    op = lro.operations.get(spec.operation) if isinstance(spec.operation, str) else None
    if op is None:
        raise _refuse("operation", f"unknown operation {spec.operation!r}")
    try:
        params = validate_params(op, spec.params)
    except Unprocessable as exc:
        errors = (exc.extensions or {}).get("errors") or []
        moved = [{**e, "pointer": "/params" + str(e.get("pointer", ""))} for e in errors]
        summary = "; ".join(f"{e['pointer']}: {e.get('detail', '')}" for e in moved[:5])
        raise Unprocessable(
            f"Invalid parameters: {summary}", extensions={"errors": moved}
        ) from None
    schedule_id = spec.schedule_id if spec.schedule_id is not None else None
    if schedule_id is None:
        schedule_id = existing.id if existing else uuid.uuid4().hex
    if not isinstance(schedule_id, str) or not _ID.match(schedule_id):
        raise _refuse("schedule_id", "1-128 letters, digits, '.', '_', ':' or '-'")
    if (spec.cron is None) == (spec.interval_seconds is None):
        raise _refuse("cron", "give exactly one of cron and interval_seconds")
    if spec.cron is not None:
        if not isinstance(spec.cron, str):
            raise _refuse("cron", "a 5-field cron expression")
        try:
            check_cron(spec.cron)
        except ValueError as exc:
            raise _refuse("cron", str(exc)) from None
    interval = spec.interval_seconds
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not 1 <= interval <= MAX_INTERVAL_SECONDS
    ):
        raise _refuse("interval_seconds", f"a number of seconds from 1 to {MAX_INTERVAL_SECONDS}")
    if not isinstance(spec.timezone, str):
        raise _refuse("timezone", "an IANA time zone name")
    try:
        zone(spec.timezone)
    except ValueError as exc:
        raise _refuse("timezone", str(exc)) from None
    if spec.overlap not in OVERLAPS:
        raise _refuse("overlap", '"skip" or "allow"')
    if not isinstance(spec.paused, bool):
        raise _refuse("paused", "true or false")
    tags = check_tags(spec.tags)
    if spec.callback_url is not None:
        if not isinstance(spec.callback_url, str):
            raise _refuse("callback_url", "a URL")
        await check_callback_url(spec.callback_url, lro.settings)
    cron = spec.cron
    interval_f = None if interval is None else float(interval)
    first = next_run(
        cron=cron, interval_seconds=interval_f, timezone=spec.timezone, anchor=now, after=now
    )
    return Schedule(
        id=schedule_id,
        owner=owner,
        operation=op.name,
        params=params,
        cron=cron,
        interval_seconds=interval_f,
        timezone=spec.timezone,
        overlap=spec.overlap,
        paused=spec.paused,
        tags=tags,
        callback_url=spec.callback_url,
        next_run_at=first,
        created_at=existing.created_at if existing else now,
        updated_at=now,
        last_run_at=existing.last_run_at if existing else None,
        last_job_id=existing.last_job_id if existing else None,
    )


def same_plan(a: Schedule, b: Schedule) -> bool:
    """Whether two schedules declare the same thing (their times and history aside)."""
    aligned = replace(
        b,
        next_run_at=a.next_run_at,
        created_at=a.created_at,
        updated_at=a.updated_at,
        last_run_at=a.last_run_at,
        last_job_id=a.last_job_id,
    )
    return aligned == a


async def job_of(lro: Runtime, schedule: Schedule) -> NewJob:
    """The job one firing of `schedule` submits: its operation and params, its tags plus
    `schedule:<id>`."""
    op = lro.operations.get(schedule.operation)
    tags = tuple(dict.fromkeys((*schedule.tags, f"schedule:{schedule.id}")))[-20:]
    return NewJob(
        id=str(uuid.uuid4()),
        operation=schedule.operation,
        params=schedule.params,
        owner=schedule.owner,
        max_attempts=op.max_attempts if op else 3,
        timeout_seconds=op.timeout if op else None,
        estimated_duration_seconds=await lro.estimator.estimate(lro.store, op) if op else None,
        callback_url=schedule.callback_url,
        tags=tags,
    )
