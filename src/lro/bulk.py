"""Bulk cancel and retry as long-running operations themselves (HTTP-CONTRACT §14):
`lro.bulk.cancel` and `lro.bulk.retry`, registered by the composition root in every
process, so any worker runs them.

A bulk job is one with steps: its first step selects the jobs that fit the filter when
the action started (their ids are the step's stored result, so a resumed run acts on the
same set), then it acts on them in chunks, with a checkpoint after each chunk and the
progress counting the jobs done. A worker that dies half way leaves the next attempt to
go on from the checkpoint, and a job acted on twice changes nothing the second time
(cancel and retry answer for themselves). The scope is the bulk job's owner, or every
owner's for an admin's action (`all_owners`, set only by lro's own route: `lro.`
operations cannot be submitted by name).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from lro.context import JobContext
from lro.errors import PermanentError
from lro.models import Status, utcnow
from lro.operations import Operation, make_operation
from lro.store.steps import JobFilter, RetryOutcome
from lro.store.types import CancelOutcome

if TYPE_CHECKING:
    from lro.runtime import Runtime

MAX_MATCHED = 20_000
"""The most jobs one bulk action takes; narrow the filter (or run it again) for more.
Their ids are the select step's result, which LRO_MAX_STEP_RESULT_BYTES bounds (about 40
bytes of JSON per id: 20,000 fit the default 1 MiB)."""

ID_BYTES = 40

CHUNK = 100
"""Jobs acted on between two checkpoints."""


class BulkParams(BaseModel):
    statuses: list[Status] = []
    operation: str | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    tag: str | None = None
    all_owners: bool = False


def bulk_operations(lro: Runtime) -> list[Operation]:
    async def select(ctx: JobContext, params: BulkParams) -> list[str]:
        steps = lro.store.steps
        me = await lro.store.get_job(ctx.job_id)
        if steps is None or me is None:
            raise PermanentError("this store has no bulk actions", code="not_supported")
        where = JobFilter(
            owner=None if params.all_owners else me.owner,
            statuses=params.statuses,
            operation=params.operation,
            created_before=params.created_before,
            created_after=params.created_after,
            tag=params.tag,
            exclude=ctx.job_id,
        )
        cap = min(MAX_MATCHED, lro.settings.max_step_result_bytes // ID_BYTES)
        return await steps.select_jobs(where, utcnow(), cap)

    async def act(ctx: JobContext, params: BulkParams, one: Any) -> dict[str, int]:
        ids: list[str] = await ctx.run_step("select", select, ctx, params)
        state = ctx.last_checkpoint or {"done": 0, "changed": 0}
        done, changed = int(state["done"]), int(state["changed"])
        total = len(ids)
        while done < total:
            for job_id in ids[done : done + CHUNK]:
                changed += int(await one(job_id))
            done = min(total, done + CHUNK)
            await ctx.checkpoint({"done": done, "changed": changed})
            await ctx.progress(100 * done / total, f"{done} of {total} jobs")
        return {"matched": total, "changed": changed}

    async def cancel_one(job_id: str) -> bool:
        result = await lro.store.request_cancel(job_id, utcnow(), lro.settings.retention_seconds)
        return result is not None and result.outcome is not CancelOutcome.FINISHED

    async def retry_one(job_id: str) -> bool:
        steps = lro.store.steps
        result = None if steps is None else await steps.retry_job(job_id, utcnow())
        return result is not None and result.outcome is RetryOutcome.RETRIED

    async def bulk_cancel(ctx: JobContext, params: BulkParams) -> dict[str, int]:
        """Cancel the jobs that fit a filter."""
        return await act(ctx, params, cancel_one)

    async def bulk_retry(ctx: JobContext, params: BulkParams) -> dict[str, int]:
        """Retry the failed and cancelled jobs that fit a filter."""
        return await act(ctx, params, retry_one)

    common: dict[str, Any] = {
        "route": None,
        "estimated_duration": 5,
        "max_attempts": 3,
        "timeout": None,
        "retry_base_seconds": None,
    }
    return [
        make_operation(bulk_cancel, name="lro.bulk.cancel", **common),
        make_operation(bulk_retry, name="lro.bulk.retry", **common),
    ]
