"""Schedule plans (HTTP-CONTRACT §16): create, list, change, delete and trigger your
schedules. Sans-IO like every plan (`_calls`), run by the sync and async clients alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from lro.client._calls import call, parse_job
from lro.client._core import Config, Plan
from lro.client.errors import ProtocolError
from lro.client.models import JobResource, ScheduleResource


def _path(schedule_id: str, *rest: str) -> str:
    return "/".join([f"/schedules/{quote(schedule_id, safe='')}", *rest])


def _parse(response: httpx.Response) -> ScheduleResource:
    try:
        return ScheduleResource.model_validate_json(response.content)
    except ValidationError as exc:
        raise ProtocolError(f"not a schedule resource: {exc.errors()[0]['msg']}") from exc


def create_schedule(
    cfg: Config,
    operation: str,
    params: Mapping[str, Any] | None = None,
    *,
    schedule_id: str | None = None,
    cron: str | None = None,
    interval_seconds: float | None = None,
    timezone: str | None = None,
    overlap: str | None = None,
    paused: bool | None = None,
    tags: Sequence[str] | None = None,
    callback_url: str | None = None,
) -> Plan[ScheduleResource]:
    """Create a schedule of `operation`: exactly one of `cron` (5 fields, in `timezone`,
    default UTC) and `interval_seconds`. Raises Conflict when the id is taken."""
    body: dict[str, Any] = {"operation": operation, "params": dict(params or {})}
    given = {
        "schedule_id": schedule_id,
        "cron": cron,
        "interval_seconds": interval_seconds,
        "timezone": timezone,
        "overlap": overlap,
        "paused": paused,
        "tags": None if tags is None else list(tags),
        "callback_url": callback_url,
    }
    body.update({k: v for k, v in given.items() if v is not None})
    return _parse((yield from call(cfg, cfg.request("POST", "/schedules", json=body))))


def list_schedules(cfg: Config) -> Plan[list[ScheduleResource]]:
    """Your schedules, by id."""
    response = yield from call(cfg, cfg.request("GET", "/schedules"))
    try:
        return [ScheduleResource.model_validate(s) for s in response.json()["items"]]
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ProtocolError(f"the schedule list is not {{items}}: {exc}") from exc


def get_schedule(cfg: Config, schedule_id: str) -> Plan[ScheduleResource]:
    return _parse((yield from call(cfg, cfg.request("GET", _path(schedule_id)))))


def update_schedule(
    cfg: Config, schedule_id: str, changes: Mapping[str, Any]
) -> Plan[ScheduleResource]:
    """Change some fields (`{"paused": True}` pauses, `{"paused": False}` resumes)."""
    request = cfg.request("PATCH", _path(schedule_id), json=dict(changes))
    return _parse((yield from call(cfg, request)))


def delete_schedule(cfg: Config, schedule_id: str) -> Plan[None]:
    """Delete the schedule; the jobs it made stay."""
    yield from call(cfg, cfg.request("DELETE", _path(schedule_id)))
    return None


def trigger_schedule(cfg: Config, schedule_id: str) -> Plan[JobResource]:
    """Run the schedule now, paused or not; returns the job."""
    return parse_job((yield from call(cfg, cfg.request("POST", _path(schedule_id, "trigger")))))
