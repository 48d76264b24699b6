"""`lro wait`: a live bar on a terminal (driven through a pseudo-terminal with pexpect),
plain progress lines on a pipe, one JSON document with --json, and exit statuses that say
how the job ended. Every wait is bounded; nothing asserts on timing."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from tests.cli.conftest import Lro, report
from tests.support.procs import ProcessGroup, base_env, lro_command, start_server, wait_for

from lro.client import Client

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]")


@contextlib.contextmanager
def in_terminal(lro: Lro, *args: str) -> Iterator[pexpect.spawn]:
    """`lro ARGS` in a pseudo-terminal, so rich draws its live display; closed (killed if
    need be) on the way out."""
    command, *argv = [*lro_command(), *args]
    env = {**lro.env, "TERM": "xterm-256color"}
    child = pexpect.spawn(
        command, argv, env=env, cwd=str(lro.workdir), encoding="utf-8", dimensions=(30, 120)
    )
    try:
        yield child
    finally:
        child.close(force=True)


def run_in_terminal(lro: Lro, *args: str, timeout: float = 30) -> tuple[str, int]:
    """Everything `lro ARGS` wrote to its terminal, and its exit status."""
    with in_terminal(lro, *args) as child:
        child.expect(pexpect.EOF, timeout=timeout)
        raw = str(child.before)
    return raw, int(child.exitstatus)


def screen_text(raw: str) -> str:
    """The output without control sequences; every redraw (after a carriage return) on a
    line of its own."""
    return ANSI_RE.sub("", raw).replace("\r\n", "\n").replace("\r", "\n")


def test_wait_follows_a_job_from_queued_to_done_on_a_terminal_and_on_a_pipe(
    tmp_path: Path,
) -> None:
    """Deterministic: the job waits in the queue of a server without a worker until both
    `lro wait`s (one in a pseudo-terminal, one on a pipe) show it queued; only then does a
    worker start, so both see every step from 0% to 100% however slow the machine is."""
    group = ProcessGroup(workdir=tmp_path, env=base_env(tmp_path))
    try:
        url = start_server(group, worker=False, name="api-no-worker")
        with Client(url) as api:
            job_id = report(api, rows=40, delay_seconds=2)
        lro = Lro(url=url, env={**group.env, "LRO_URL": url}, workdir=tmp_path)
        piped = subprocess.Popen(
            [*lro_command(), "wait", job_id],
            env=lro.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert piped.stdout is not None
        first_line = piped.stdout.readline()
        with in_terminal(lro, "wait", job_id) as child:
            child.expect("queued", timeout=30)
            raw = str(child.before) + str(child.after)
            group.start("worker", ["worker"])
            child.expect(pexpect.EOF, timeout=30)
            raw += str(child.before)
        rest, errors = piped.communicate(timeout=30)
    finally:
        group.close()
        sys.stderr.write(group.logs() + "\n")
    assert child.exitstatus == 0, raw
    check_terminal_output(raw, url, job_id)
    assert piped.returncode == 0, errors
    check_plain_output(first_line + rest, url, job_id, moving=3)


def check_terminal_output(raw: str, url: str, job_id: str) -> None:
    assert "\x1b[" in raw  # a real terminal rendering: colours and redraws
    text = screen_text(raw)
    percentages = [int(p) for p in re.findall(r"(\d{1,3})%", text)]
    assert percentages == sorted(percentages), percentages  # the bar never goes back
    assert len({p for p in percentages if 0 < p < 100}) >= 3, percentages  # it moves...
    assert percentages[0] == 0 and percentages[-1] == 100  # ...from start to end
    assert "ETA" in text and "rendering rows" in text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[-3].startswith("completed in")
    assert lines[-2] == f"result    {url}/api/v1/jobs/{job_id}/result"
    assert lines[-1] == f"download  lro result {job_id} -o FILE"


def check_plain_output(stdout: str, url: str, job_id: str, *, moving: int) -> None:
    """Plain lines, each a change; at least `moving` distinct percentages between 0 and 100."""
    assert "\x1b" not in stdout and "\r" not in stdout
    lines = stdout.splitlines()
    progress, outcome = lines[:-3], lines[-3:]
    assert progress[0] == "0% queued", lines
    assert all(re.fullmatch(r"\d{1,3}% \S.*", line) for line in progress), lines
    assert all(a != b for a, b in itertools.pairwise(progress)), lines  # changes only
    pcts = [int(line.split("%")[0]) for line in progress]
    assert pcts == sorted(pcts) and pcts[-1] == 100
    assert len({p for p in pcts if 0 < p < 100}) >= moving, lines
    assert outcome[0].startswith("completed in ")
    assert outcome[1] == f"  result: {url}/api/v1/jobs/{job_id}/result"
    assert outcome[2] == f"  download: lro result {job_id} -o FILE"


def test_submit_wait_in_a_terminal(lro: Lro) -> None:
    raw, status = run_in_terminal(
        lro, "submit", "reports.generate", "rows=3", "delay_seconds=0.5", "--wait"
    )
    assert status == 0, raw
    text = screen_text(raw)
    assert "submitted reports.generate job" in text
    assert "100%" in text and "completed in" in text


def test_submit_wait_on_a_pipe_prints_the_id_then_plain_progress(lro: Lro) -> None:
    proc = lro("submit", "reports.generate", "rows=20", "delay_seconds=0.5", "--wait")
    assert proc.returncode == 0, proc
    job_id, *rest = proc.stdout.splitlines()
    # How many steps a fast job shows depends on how the event stream batches them.
    check_plain_output("\n".join(rest), lro.url, job_id, moving=0)


def test_a_failed_job_exits_1_with_the_error_explained(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=10, delay_seconds=0.5, fail_at_pct=50)
    proc = lro("wait", job_id)
    assert proc.returncode == 1, proc
    text = proc.stdout
    assert re.search(r"^failed after .* at \d+%$", text, re.M), text
    assert "  error: Report generation failed (requested by fail_at_pct)" in text
    assert "  detail: The report failed on purpose" in text
    assert "  code: report_failed_at_requested_pct" in text
    assert "  retryable: no: " in text
    assert "  attempts: 1 of 3" in text
    doc = json.loads(lro("wait", job_id, "--json").stdout)
    assert doc["status"] == "failed" and doc["error"]["retryable"] is False


def test_a_failed_job_in_a_terminal(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=10, delay_seconds=0.5, fail_at_pct=30)
    raw, status = run_in_terminal(lro, "wait", job_id)
    assert status == 1, raw
    text = screen_text(raw)
    assert "failed after" in text and "report_failed_at_requested_pct" in text


def test_a_cancelled_job_exits_3(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=10, delay_seconds=60)
    api.cancel(job_id)
    proc = lro("wait", job_id)
    assert proc.returncode == 3, proc
    assert proc.stdout.splitlines()[-1].startswith("cancelled after")


def test_ctrl_c_stops_following_and_says_the_job_goes_on(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=10, delay_seconds=60)
    with in_terminal(lro, "wait", job_id) as child:
        child.expect("ETA", timeout=30)  # the bar is up
        child.sendintr()
        child.expect(pexpect.EOF, timeout=30)
        text = screen_text(str(child.before))
    assert api.get(job_id).status in ("queued", "processing")
    api.cancel(job_id)
    assert child.exitstatus == 130, text
    assert f"stopped following job {job_id}; it goes on: lro wait {job_id}" in text
    assert "Traceback" not in text


def test_timeout_has_its_own_status_and_json_still_one_document(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=10, delay_seconds=60)
    proc = lro("wait", job_id, "--timeout", "0.5", "--json")
    api.cancel(job_id)
    assert proc.returncode == 4, proc
    doc = json.loads(proc.stdout)
    assert doc["job_id"] == job_id and doc["status"] in ("queued", "processing")
    assert proc.stderr.count("\n") == 1
    assert "--timeout" in proc.stderr and f"lro wait {job_id}" in proc.stderr


@pytest.fixture(scope="module")
def chatty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lro]:
    """A server of its own whose event streams carry a heartbeat every 0.2 s: bytes arrive
    ten times within any 2 s timeout, which a read timeout would never see elapse."""
    workdir = tmp_path_factory.mktemp("lro-chatty")
    group = ProcessGroup(workdir=workdir, env=base_env(workdir, LRO_SSE_HEARTBEAT_SECONDS="0.2"))
    try:
        url = start_server(group, worker=True, name="api-chatty")
        forcing = {"FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES"}
        env = {k: v for k, v in group.env.items() if k not in forcing}
        yield Lro(url=url, env={**env, "LRO_URL": url}, workdir=workdir)
    finally:
        group.close()
        sys.stderr.write(group.logs() + "\n")


def _processing(api: Client, job_id: str) -> None:
    wait_for(
        lambda: api.get(job_id).status == "processing",
        timeout=30,
        what=f"job {job_id} processing",
    )


def test_timeout_holds_while_the_stream_keeps_talking(chatty: Lro) -> None:
    """A two-minute job (a progress step every 10 s, heartbeats in between): `--timeout 2`
    ends the wait with status 4 while the job is still processing."""
    with Client(chatty.url) as api:
        job_id = report(api, rows=100, delay_seconds=120)
        _processing(api, job_id)
        proc = chatty("wait", job_id, "--timeout", "2", "--json")
        raw, status = run_in_terminal(chatty, "wait", job_id, "--timeout", "2")
        after = api.get(job_id)
        api.cancel(job_id)
    assert proc.returncode == 4, proc
    doc = json.loads(proc.stdout)  # the last state seen, still one document
    assert doc["job_id"] == job_id and doc["status"] == "processing"
    assert f"still processing at {doc['progress_pct']:.0f}% after 2.0s (--timeout)" in proc.stderr
    assert status == 4, raw
    assert "ETA" in screen_text(raw) and "(--timeout); it goes on" in screen_text(raw)
    assert after.status == "processing"


def test_submit_wait_timeout_holds_too(chatty: Lro) -> None:
    args = ["reports.generate", "rows=100", "delay_seconds=120", "--wait", "--timeout", "2"]
    proc = chatty("submit", *args, "--json")
    assert proc.returncode == 4, proc
    doc = json.loads(proc.stdout)
    with Client(chatty.url) as api:
        after = api.get(doc["job_id"])
        api.cancel(doc["job_id"])
    assert doc["status"] in ("queued", "processing")
    assert not after.is_terminal
