"""`lro submit` when the server answers `200` with the finished job (HTTP-CONTRACT §21) and
with `--respond-async`. The fault proxy sits between the command and the real server:
it records what the command sent and, with `Rewrite`, adds `Prefer: wait=10` to the
submit, which makes the real server hold it and answer `200` as an operation declared
with `respond_within` would."""

from __future__ import annotations

import json

import pytest
from tests.cli.conftest import Lro
from tests.cli.test_wait import run_in_terminal, screen_text
from tests.client.faultproxy import FaultProxy, Rewrite

SUBMIT = "POST /api/v1/jobs"
REPORT = ["submit", "reports.generate", "rows=3", "delay_seconds=0"]


@pytest.fixture
def answers_200(proxy: FaultProxy) -> FaultProxy:
    proxy.add(SUBMIT, Rewrite({"Prefer": "wait=10"}), times=None)
    return proxy


def _answered_200_without_following(proxy: FaultProxy) -> None:
    submits = proxy.requests(SUBMIT)
    assert submits and all(s.answer.startswith("http/1.1 200") for s in submits)
    assert proxy.requests("GET") == []  # neither the event stream nor a poll


def test_submit_wait_answered_200_reports_the_outcome_at_once(
    lro: Lro, answers_200: FaultProxy
) -> None:
    proc = lro(*REPORT, "--wait", "--url", answers_200.url)
    assert proc.returncode == 0, proc
    job_id, progress, *outcome = proc.stdout.splitlines()
    assert progress == "100% done"
    assert outcome[0].startswith("completed in ")
    assert outcome[1] == f"  result: {answers_200.url}/api/v1/jobs/{job_id}/result"
    _answered_200_without_following(answers_200)


def test_submit_wait_answered_200_with_a_failed_job_exits_1(
    lro: Lro, answers_200: FaultProxy
) -> None:
    proc = lro(*REPORT, "fail_at_pct=0", "--wait", "--json", "--url", answers_200.url)
    assert proc.returncode == 1, proc
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed"
    assert doc["error"]["code"] == "report_failed_at_requested_pct"
    _answered_200_without_following(answers_200)


def test_submit_answered_200_prints_as_for_any_submit(lro: Lro, answers_200: FaultProxy) -> None:
    plain = lro(*REPORT, "fail_at_pct=0", "--url", answers_200.url)
    # The submit worked: its status does not depend on how long the server held it.
    assert plain.returncode == 0, plain
    [job_id] = plain.stdout.splitlines()
    doc = json.loads(lro.ok(*REPORT, "--json", "--url", answers_200.url))
    assert doc["status"] == "completed" and doc["result_url"].endswith("/result")
    raw, status = run_in_terminal(lro, *REPORT, "--url", answers_200.url)
    text = screen_text(raw)
    assert status == 0, raw
    assert "submitted reports.generate job" in text and "completed in" in text
    assert "download  lro result" in text and "follow it" not in text
    assert job_id != doc["job_id"]
    _answered_200_without_following(answers_200)


def test_respond_async_asks_for_the_202(lro: Lro, proxy: FaultProxy) -> None:
    doc = json.loads(lro.ok(*REPORT, "--respond-async", "--json", "--url", proxy.url))
    [seen] = proxy.requests(SUBMIT)
    assert seen.headers["prefer"] == "respond-async"
    assert seen.answer.startswith("http/1.1 202")
    assert doc["status"] == "queued"


def test_submit_wait_with_a_timeout_asks_for_the_202_and_follows(
    lro: Lro, proxy: FaultProxy
) -> None:
    """A held submit would spend the --timeout before the job is even known."""
    proc = lro(*REPORT, "--wait", "--timeout", "30", "--json", "--url", proxy.url)
    assert proc.returncode == 0, proc
    assert json.loads(proc.stdout)["status"] == "completed"
    [seen] = proxy.requests(SUBMIT)
    assert seen.headers["prefer"] == "respond-async"
    assert seen.answer.startswith("http/1.1 202")
    assert proxy.requests("/events")  # it followed the job
