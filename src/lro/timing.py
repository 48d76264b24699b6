"""When a schedule is due (HTTP-CONTRACT §16): 5-field cron in an IANA time zone, or a
fixed interval. Pure functions; the cron grammar and its DST rules are cronsim's (a time
skipped by a spring-forward runs at the first valid minute after it, a repeated one runs
once), not ours."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError


def zone(name: str) -> ZoneInfo:
    """The IANA zone; ValueError for a name that is not one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. Europe/Berlin)") from None


def check_cron(expression: str) -> None:
    """ValueError unless `expression` is a valid 5-field cron expression."""
    if len(expression.split()) != 5:
        raise ValueError("cron takes 5 fields: minute hour day-of-month month day-of-week")
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except (CronSimError, ValueError) as exc:
        raise ValueError(f"not a cron expression: {exc}") from None


def next_cron(expression: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after `after` that `expression` matches in `timezone`, in
    UTC."""
    local = after.astimezone(zone(timezone))
    return next(CronSim(expression, local)).astimezone(UTC)


def next_interval(anchor: datetime, interval: float, after: datetime) -> datetime:
    """The first `anchor + k * interval` (k >= 1) strictly after `after`: the grid stays
    where it began, and missed periods are skipped, not made up."""
    step = timedelta(seconds=interval)
    if after < anchor + step:
        return anchor + step
    k = math.floor((after - anchor) / step) + 1
    return anchor + k * step


def next_run(
    *,
    cron: str | None,
    interval_seconds: float | None,
    timezone: str,
    anchor: datetime,
    after: datetime,
) -> datetime:
    if cron is not None:
        return next_cron(cron, timezone, after)
    assert interval_seconds is not None
    return next_interval(anchor, interval_seconds, after)
