"""Schedule routes (HTTP-CONTRACT §16): create, list, read, change, delete and trigger
the caller's schedules. Validation is `lro.scheduling.build`, shared with
`lro.schedule(...)`; firing is the scheduler's (every serve and worker process)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import JSONResponse, Response

from lro.api.auth import Caller, Owner
from lro.api.problems import problem_responses
from lro.api.submit import read_object
from lro.api.views import api_base, job_response
from lro.errors import Conflict, NotFound
from lro.models import utcnow
from lro.resource import job_url, rfc3339
from lro.scheduling import ScheduleSpec, build, job_of, schedules_of
from lro.store import Schedule

if TYPE_CHECKING:
    from lro.runtime import Runtime

ScheduleId = Annotated[str, Path(description="The schedule's id.")]

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["operation"],
                    "properties": {
                        "schedule_id": {"type": "string"},
                        "operation": {"type": "string"},
                        "params": {"type": "object"},
                        "cron": {"type": "string", "description": "5 fields"},
                        "interval_seconds": {"type": "number", "minimum": 1},
                        "timezone": {"type": "string", "default": "UTC"},
                        "overlap": {"type": "string", "enum": ["skip", "allow"]},
                        "paused": {"type": "boolean"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "callback_url": {"type": "string"},
                    },
                }
            }
        },
    }
}


def _spec_of(s: Schedule) -> dict[str, Any]:
    """The fields a schedule is declared with (what a PATCH starts from)."""
    return {
        "schedule_id": s.id,
        "operation": s.operation,
        "params": s.params,
        "cron": s.cron,
        "interval_seconds": s.interval_seconds,
        "timezone": s.timezone,
        "overlap": s.overlap,
        "paused": s.paused,
        "tags": list(s.tags),
        "callback_url": s.callback_url,
    }


def schedule_resource(s: Schedule) -> dict[str, Any]:
    """The declared fields, then what the scheduler keeps."""
    return {
        **_spec_of(s),
        "next_run_at": rfc3339(s.next_run_at),
        "last_run_at": rfc3339(s.last_run_at),
        "last_job_id": s.last_job_id,
        "created_at": rfc3339(s.created_at),
    }


async def _visible(lro: Runtime, caller: Caller, schedule_id: str) -> Schedule:
    part = schedules_of(lro)
    # No schedule id holds U+0000, and PostgreSQL cannot compare text holding one.
    found = (
        None if "\x00" in schedule_id else await part.get_schedule(caller.principal, schedule_id)
    )
    if found is None:
        raise NotFound(
            f"There is no schedule {schedule_id!r}.", extensions={"schedule_id": schedule_id}
        )
    return found


def add_schedule_routes(router: APIRouter, lro: Runtime) -> None:
    prefix = lro.settings.api_prefix

    @router.post(
        f"{prefix}/schedules",
        status_code=201,
        response_model=None,
        responses=problem_responses(400, 409, 413, 415, 422, 501, 503),
        openapi_extra=_BODY,
        operation_id="create_schedule",
        summary="Create a schedule (cron or interval)",
        tags=["schedules"],
    )
    async def create(request: Request, caller: Owner) -> Response:
        read = await read_object(request, lro, "The body must be a JSON object.")
        now = utcnow()
        wanted = await build(lro, ScheduleSpec.from_json(read.body), caller.principal, now)
        made = await schedules_of(lro).put_schedule(wanted, create=True)
        if made is None:
            raise Conflict(
                f"A schedule {wanted.id!r} exists already; PATCH it or pick another id.",
                extensions={"schedule_id": wanted.id},
            )
        url = f"{api_base(lro, request)}/schedules/{made.id}"
        return JSONResponse(schedule_resource(made), 201, headers={"Location": url})

    @router.get(
        f"{prefix}/schedules",
        response_model=None,
        responses=problem_responses(501, 503),
        operation_id="list_schedules",
        summary="List your schedules",
        tags=["schedules"],
    )
    async def list_schedules(caller: Owner) -> Response:
        items = await schedules_of(lro).list_schedules(caller.principal)
        return JSONResponse({"items": [schedule_resource(s) for s in items]})

    @router.get(
        f"{prefix}/schedules/{{schedule_id}}",
        response_model=None,
        responses=problem_responses(404, 501, 503),
        operation_id="get_schedule",
        summary="A schedule",
        tags=["schedules"],
    )
    async def get_schedule(schedule_id: ScheduleId, caller: Owner) -> Response:
        return JSONResponse(schedule_resource(await _visible(lro, caller, schedule_id)))

    @router.patch(
        f"{prefix}/schedules/{{schedule_id}}",
        response_model=None,
        responses=problem_responses(400, 404, 413, 415, 422, 501, 503),
        openapi_extra=_BODY,
        operation_id="update_schedule",
        summary="Change a schedule (pause and resume with `paused`)",
        tags=["schedules"],
    )
    async def update(request: Request, schedule_id: ScheduleId, caller: Owner) -> Response:
        current = await _visible(lro, caller, schedule_id)
        read = await read_object(request, lro, "The body must be a JSON object.")
        body = {**_spec_of(current), **read.body, "schedule_id": current.id}
        now = utcnow()
        wanted = await build(lro, ScheduleSpec.from_json(body), caller.principal, now, current)
        timing = ("cron", "interval_seconds", "timezone")
        if all(getattr(wanted, f) == getattr(current, f) for f in timing) and (
            wanted.paused or not current.paused
        ):
            # The same timing: the next firing stays where it was (a resumed schedule
            # whose due time passed meanwhile fires once at once).
            wanted = replace(wanted, next_run_at=current.next_run_at)
        stored = await schedules_of(lro).put_schedule(wanted, create=False)
        assert stored is not None
        return JSONResponse(schedule_resource(stored))

    @router.delete(
        f"{prefix}/schedules/{{schedule_id}}",
        status_code=204,
        response_model=None,
        responses=problem_responses(404, 501, 503),
        operation_id="delete_schedule",
        summary="Delete a schedule (its jobs stay)",
        tags=["schedules"],
    )
    async def delete(schedule_id: ScheduleId, caller: Owner) -> Response:
        await _visible(lro, caller, schedule_id)
        if not await schedules_of(lro).delete_schedule(caller.principal, schedule_id):
            raise NotFound(
                f"There is no schedule {schedule_id!r}.", extensions={"schedule_id": schedule_id}
            )
        return Response(status_code=204)

    @router.post(
        f"{prefix}/schedules/{{schedule_id}}/trigger",
        status_code=202,
        response_model=None,
        responses=problem_responses(404, 501, 503),
        operation_id="trigger_schedule",
        summary="Run a schedule now, paused or not",
        tags=["schedules"],
    )
    async def trigger(request: Request, schedule_id: ScheduleId, caller: Owner) -> Response:
        current = await _visible(lro, caller, schedule_id)
        job = await schedules_of(lro).trigger(current, await job_of(lro, current), utcnow())
        if job is None:
            raise NotFound(
                f"There is no schedule {schedule_id!r}.", extensions={"schedule_id": schedule_id}
            )
        base = api_base(lro, request)
        return job_response(
            job,
            base,
            status_code=202,
            headers={"Location": job_url(base, job.id)},
            retry_after=True,
        )
