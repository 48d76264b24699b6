"""Dependencies at submit (HTTP-CONTRACT §17): what a new job with `depends_on` becomes,
decided once for every backend. Later endings are the stores' triggers' business (see
each backend's schema.sql); these words and that trigger's are kept the same."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from lro.models import ErrorDetail, NewJob, Status

DEPENDENCY_FAILED_TYPE = "https://lro.dev/problems/dependency-failed"
MISSING_RETENTION = timedelta(days=7)
"""Retention of a job failed because a dependency vanished (swept in the instant between
the submit's check and its insert): the default, as no ending job can lend its own."""


def dependency_failed_error(dependency_id: str, status: str, attempts: int = 0) -> ErrorDetail:
    return ErrorDetail(
        type=DEPENDENCY_FAILED_TYPE,
        title="A job this one depends on did not complete",
        detail=f"Dependency {dependency_id} ended {status}, so this job did not run.",
        code="dependency_failed",
        retryable=False,
        attempts=attempts,
    )


@dataclass(frozen=True, slots=True)
class DependencyState:
    """A dependency as the inserting transaction sees it (under its lock)."""

    status: Status
    retention: timedelta | None = None
    """expires_at - finished_at of an ended one: the retention its ending used."""


@dataclass(frozen=True, slots=True)
class Settled:
    """What a new job with dependencies becomes: `waiting_on` the active ones, or
    failed because `failed_by` ended badly (unless its policy is `always`)."""

    waiting_on: tuple[str, ...] = ()
    failed_by: str | None = None
    failed_status: str = ""
    retention: timedelta = MISSING_RETENTION


def settle(new: NewJob, states: Mapping[str, DependencyState]) -> Settled:
    """Decide for `new`; `states` holds each of its dependencies (missing: gone)."""
    waiting: list[str] = []
    for dep in dict.fromkeys(new.depends_on):
        state = states.get(dep)
        if state is None:
            if new.dependency_policy != "always":
                return Settled(failed_by=dep, failed_status="and was deleted")
            continue
        if state.status in (Status.QUEUED, Status.PROCESSING):
            waiting.append(dep)
        elif state.status is not Status.COMPLETED and new.dependency_policy != "always":
            return Settled(
                failed_by=dep,
                failed_status=state.status.value,
                retention=state.retention or MISSING_RETENTION,
            )
    return Settled(waiting_on=tuple(waiting))
