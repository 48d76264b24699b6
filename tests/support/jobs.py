"""A Job built in memory, for tests of pure functions that render or judge one."""

from __future__ import annotations

from datetime import UTC, datetime

from lro.models import Job, Status

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def make_job(**overrides: object) -> Job:
    """A queued job created at T0; any field can be overridden by keyword."""
    base: dict[str, object] = dict(
        id="j1",
        operation="op",
        status=Status.QUEUED,
        params={},
        owner="",
        priority=0,
        progress_pct=0.0,
        step=None,
        attempt=0,
        max_attempts=3,
        timeout_seconds=None,
        run_at=T0,
        created_at=T0,
        updated_at=T0,
        started_at=None,
        finished_at=None,
        expires_at=None,
        estimated_duration_seconds=120.0,
        version=1,
    )
    base.update(overrides)
    return Job(**base)  # type: ignore[arg-type]
