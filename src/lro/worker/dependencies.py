"""`ctx.dependency_results` (HTTP-CONTRACT §17): what a dependent job's handler reads of
the jobs it waited for, read once when its attempt starts."""

from __future__ import annotations

from typing import Any

from lro.models import Job, Status
from lro.store import Store


async def dependency_results(store: Store, job: Job) -> dict[str, Any]:
    """Each dependency's inline JSON result, by job id. None for one that failed or was
    cancelled (a job runs after one only with policy `always`), one whose result is a
    file (read it at its `result_url`), and one already deleted."""
    results: dict[str, Any] = {}
    for dep_id in job.depends_on:
        dep = await store.get_job(dep_id)
        completed = dep is not None and dep.status is Status.COMPLETED
        results[dep_id] = (
            dep.result if completed and dep is not None and dep.result_ref is None else None
        )
    return results
