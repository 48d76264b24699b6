"""`client.submit_batch(...)` and `client.get_batch(...)` against a real `lro serve` (the
demo app with an embedded worker)."""

from __future__ import annotations

import time

import pytest

from lro.client import BatchResource, Client, Unprocessable


def _until_done(api: Client, batch_id: str, deadline: float = 60) -> BatchResource:
    end = time.monotonic() + deadline
    while True:
        batch = api.get_batch(batch_id)
        if batch.is_terminal or time.monotonic() > end:
            return batch
        time.sleep(0.1)


def test_a_batch_from_the_sdk_runs_to_completion(api: Client) -> None:
    fast = {"rows": 3, "delay_seconds": 0}
    batch = api.submit_batch(
        [
            ("reports.generate", fast),
            {"operation": "reports.generate", "params": fast, "tags": ["b"]},
        ],
        idempotency_key=f"sdk-batch-{time.time_ns()}",
    )
    assert batch.total == 2 and len(batch.jobs) == 2 and batch.jobs[1].tags == ["b"]
    assert all(j.batch_id == batch.batch_id for j in batch.jobs)
    done = _until_done(api, batch.batch_id)
    assert done.is_terminal and done.counts["completed"] == 2 and done.progress_pct == 100
    assert api.wait(done.jobs[0].job_id, timeout=5).status == "completed"


def test_a_bad_job_rejects_the_sdk_batch(api: Client) -> None:
    with pytest.raises(Unprocessable) as refused:
        api.submit_batch([("reports.generate", {"rows": 1}), ("reports.generate", {"rows": 0})])
    assert "/jobs/1/params/rows" in str(refused.value.problem)


def test_a_dependent_submit_from_the_sdk_waits_then_runs(api: Client) -> None:
    first = api.submit("reports.generate", {"rows": 2, "delay_seconds": 0.5})
    second = api.submit(
        "reports.generate", {"rows": 2, "delay_seconds": 0}, depends_on=[first.job_id]
    )
    assert second.depends_on == [first.job_id]
    done = api.wait(second.job_id, timeout=60)
    assert done.status == "completed" and done.waiting_on == []
    parent = api.get(first.job_id)
    assert parent.status == "completed"
    assert parent.finished_at is not None and done.started_at is not None
    assert done.started_at >= parent.finished_at  # it ran only once its dependency had
