"""`lro schedules` against a real `lro serve`: add, list, pause, resume, trigger, delete;
and the scheduler of that server process firing an interval schedule."""

from __future__ import annotations

import json
import time
import uuid

from tests.cli.conftest import Lro

from lro.client import Client


def test_schedules_commands(lro: Lro, api: Client) -> None:
    sid = f"cli-{uuid.uuid4().hex[:8]}"
    params = json.dumps({"rows": 1, "delay_seconds": 0})
    made = json.loads(
        lro.ok(
            "schedules",
            "add",
            sid,
            "reports.generate",
            "--cron",
            "0 3 * * *",
            "--timezone",
            "Europe/Berlin",
            "--params",
            params,
            "--tag",
            "cli",
            "--json",
        )
    )
    assert made["schedule_id"] == sid and made["cron"] == "0 3 * * *"
    assert made["timezone"] == "Europe/Berlin" and made["tags"] == ["cli"]
    table = lro.ok("schedules", "list")
    assert table.splitlines()[0].split()[:2] == ["SCHEDULE", "OPERATION"] and sid in table
    assert "paused" in lro.ok("schedules", "pause", sid)
    assert api.get_schedule(sid).paused
    assert "resumed" in lro.ok("schedules", "resume", sid)
    assert not api.get_schedule(sid).paused
    job_id = lro.ok("schedules", "trigger", sid).strip()
    job = api.wait(job_id, timeout=30)
    assert job.status == "completed" and f"schedule:{sid}" in job.tags
    assert f"deleted schedule {sid}" in lro.ok("schedules", "delete", sid)
    gone = lro("schedules", "delete", sid)
    assert gone.returncode == 1 and "no schedule" in gone.stderr.lower()
    bad = lro("schedules", "add", "x y", "reports.generate", "--every", "5", "--params", params)
    assert bad.returncode == 1 and "schedule_id" in bad.stderr
    no_rows = lro("schedules", "add", "ok", "reports.generate", "--every", "5")
    assert no_rows.returncode == 1 and "/params/rows" in no_rows.stderr


def test_the_server_fires_an_interval_schedule(api: Client) -> None:
    sid = f"tick-{uuid.uuid4().hex[:8]}"
    api.create_schedule(
        "reports.generate",
        {"rows": 1, "delay_seconds": 0},
        schedule_id=sid,
        interval_seconds=1,
        overlap="allow",
    )
    try:
        deadline = time.monotonic() + 30
        jobs = []
        while time.monotonic() < deadline:
            jobs = api.list(tag=f"schedule:{sid}").items
            if len(jobs) >= 2:
                break
            time.sleep(0.2)
        assert len(jobs) >= 2, jobs
    finally:
        api.delete_schedule(sid)
