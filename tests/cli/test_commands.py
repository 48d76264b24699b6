"""`lro submit | status | jobs | cancel | result` as a person or a script runs them: the
installed console script in a subprocess, against a real `lro serve` (see conftest). Jobs
the command under test needs are set up through the Python client, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.conftest import Lro, report
from tests.client.faultproxy import FaultProxy, Reply
from tests.client.objectstore import ObjectStore
from tests.support.procs import free_port

from lro.cli import main
from lro.client import Client
from lro.demo import HEADER, report_row

ANSI = "\x1b["


def expected_csv(rows: int) -> bytes:
    lines = [",".join(HEADER), *(",".join(report_row(i)) for i in range(1, rows + 1))]
    return ("\n".join(lines) + "\n").encode()


def downloaded(api: Client, job_id: str, tmp_path: Path) -> bytes:
    assert api.wait(job_id, timeout=30).status == "completed"
    return api.download(job_id, tmp_path / f"{job_id}.csv").read_bytes()


def test_submit_key_value_prints_the_job_id(lro: Lro, api: Client, tmp_path: Path) -> None:
    job_id = lro.ok("submit", "reports.generate", "rows=7", "delay_seconds=0", "note=hi").strip()
    assert api.get(job_id).operation == "reports.generate"  # one line: just the id
    assert downloaded(api, job_id, tmp_path) == expected_csv(7)


def test_submit_json_params_inline_file_and_stdin(lro: Lro, api: Client, tmp_path: Path) -> None:
    inline = json.loads(lro.ok("submit", "reports.generate", "--json", '{"rows": 3}'))
    assert inline["status"] == "queued" and inline["poll_url"].endswith(inline["job_id"])
    params = tmp_path / "params.json"
    params.write_text('{"rows": 4, "delay_seconds": 9}')
    from_file = lro.ok("submit", "reports.generate", "--json", f"@{params}", "delay_seconds=0")
    stdin = '{"rows": 5, "delay_seconds": 0}'
    from_stdin = lro.ok("submit", "reports.generate", "--json", "-", input=stdin)
    for doc, rows in ((from_file, 4), (from_stdin, 5)):
        assert downloaded(api, json.loads(doc)["job_id"], tmp_path) == expected_csv(rows)


def test_submit_with_options_waits_and_prints_one_json_document(lro: Lro) -> None:
    args = ["submit", "reports.generate", "rows=2", "delay_seconds=0", "--priority", "5"]
    args += ["--idempotency-key", "cli-test-key-1", "--json"]
    proc = lro(*args, "--wait")
    assert proc.returncode == 0, proc
    doc = json.loads(proc.stdout)  # the final resource, nothing else
    assert doc["status"] == "completed" and doc["result_url"].endswith("/result")
    assert json.loads(lro.ok(*args))["job_id"] == doc["job_id"]  # same key, same job


def test_status_is_a_readable_summary_and_json_for_scripts(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=3)
    api.wait(job_id, timeout=30)
    text = lro.ok("status", job_id)
    assert ANSI not in text
    lines = dict(line.split(": ", 1) for line in text.splitlines())
    assert lines["job"] == job_id
    assert lines["operation"] == "reports.generate"
    assert lines["status"] == "completed"
    assert lines["progress"] == "100% done"
    assert lines["attempt"] == "1 of 3"
    assert {"created", "started", "finished", "expires", "ran"} <= lines.keys()
    assert lines["result"] == f"{lro.url}/api/v1/jobs/{job_id}/result"
    assert lines["download"] == f"lro result {job_id} -o FILE"
    doc = json.loads(lro.ok("status", job_id, "--json", "--url", lro.url))
    assert doc["job_id"] == job_id and doc["status"] == "completed"


def test_status_of_a_running_job_shows_the_eta_and_how_to_follow(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=10, delay_seconds=60)
    text = lro.ok("status", job_id, "--url", lro.url)
    api.cancel(job_id)
    lines = dict(line.split(": ", 1) for line in text.splitlines())
    assert lines["status"] in ("queued", "processing")
    assert lines["eta"].startswith("about ")
    assert lines["follow"] == f"lro wait {job_id} --url {lro.url}"


def test_cancel_then_cancel_again(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=10, delay_seconds=60)
    out = lro.ok("cancel", job_id)
    assert job_id in out and "cancel" in out
    assert api.wait(job_id, timeout=30).status == "cancelled"
    again = lro("cancel", job_id, "--json")
    assert again.returncode == 1 and again.stdout == ""
    first, *rest = again.stderr.splitlines()
    assert first.startswith("lro: error: ") and first.endswith("(HTTP 409)")
    assert len(rest) == 1 and "cancelled" in rest[0]  # the server's detail


def test_cancel_json_is_the_resource(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=10, delay_seconds=60)
    doc = json.loads(lro.ok("cancel", job_id, "--json"))
    assert doc["job_id"] == job_id
    assert doc["status"] == "cancelled" or doc["cancel_requested"] is True


def test_jobs_table_with_filters_pages_and_json(lro: Lro, api: Client) -> None:
    done = report(api, rows=1)
    api.wait(done, timeout=30)
    cancelled = report(api, rows=1, delay_seconds=60)
    api.cancel(cancelled)
    api.wait(cancelled, timeout=30)

    text = lro.ok("jobs", "--status", "completed", "--operation", "reports.generate", "--all")
    header, *rows = text.splitlines()
    assert header.split() == ["JOB", "OPERATION", "STATUS", "PROGRESS", "STEP", "TAGS", "CREATED"]
    assert ANSI not in text
    assert any(row.split()[0] == done for row in rows)
    assert all(row.split()[2] == "completed" for row in rows)
    assert cancelled not in text

    both = json.loads(lro.ok("jobs", "--status", "cancelled,completed", "--json", "--all"))
    statuses = {item["job_id"]: item["status"] for item in both["items"]}
    assert statuses[done] == "completed" and statuses[cancelled] == "cancelled"
    assert both["next_cursor"] is None

    paged = lro("jobs", "--limit", "1", "--status", "completed", "--status", "cancelled")
    assert paged.returncode == 0
    assert len(paged.stdout.splitlines()) == 2 and cancelled in paged.stdout  # newest first
    assert "more jobs: add --all, or --cursor " in paged.stderr


def test_result_to_a_file_and_to_stdout_is_the_exact_csv(
    lro: Lro, api: Client, tmp_path: Path
) -> None:
    job_id = report(api, rows=25)
    api.wait(job_id, timeout=30)
    out = tmp_path / "report.csv"
    doc = json.loads(lro.ok("result", job_id, "-o", str(out), "--json"))
    assert out.read_bytes() == expected_csv(25)
    assert doc == {"job_id": job_id, "path": str(out), "bytes": len(expected_csv(25))}
    proc = lro("result", job_id)  # -o - is the default
    assert proc.returncode == 0 and proc.stdout.encode() == expected_csv(25)


def test_result_follows_a_redirect_and_keeps_the_api_key_home(
    lro: Lro, api: Client, proxy: FaultProxy, tmp_path: Path
) -> None:
    """The server (here the proxy, answering as an S3-backed server would) sends the
    download to an object store's presigned URL."""
    job_id = report(api, rows=2)
    api.wait(job_id, timeout=30)
    with ObjectStore() as store:
        store.put("report.csv", expected_csv(2), content_type="text/csv")
        proxy.add("/result", Reply(302, {"Location": store.presign("report.csv")}, b""))
        out = tmp_path / "report.csv"
        proc = lro("result", job_id, "-o", str(out), "--url", proxy.url, "--api-key", "k-cli")
    assert proc.returncode == 0, proc
    assert out.read_bytes() == expected_csv(2)
    [asked] = proxy.requests("/result")
    assert asked.headers["authorization"] == "Bearer k-cli"
    [fetched] = store.requests
    assert fetched.status == 200 and "authorization" not in fetched.headers


def test_result_of_an_unfinished_job_is_a_clear_error(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=10, delay_seconds=60)
    proc = lro("result", job_id, "-o", "out.csv")
    api.cancel(job_id)
    assert proc.returncode == 1, proc
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("lro: error: ") and first.endswith("(HTTP 409)")
    assert len(rest) <= 1 and "Traceback" not in proc.stderr


def test_unknown_job_and_invalid_params_show_the_servers_explanation(lro: Lro) -> None:
    proc = lro("status", "00000000-0000-4000-8000-000000000000")
    assert proc.returncode == 1 and proc.stdout == ""
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("lro: error: ") and first.endswith("(HTTP 404)")
    assert len(rest) == 1 and "Traceback" not in proc.stderr
    invalid = lro("submit", "reports.generate", "rows=0")
    assert invalid.returncode == 1 and invalid.stdout == ""
    assert "(HTTP 422)" in invalid.stderr and "rows" in invalid.stderr


def test_unreachable_server_is_one_line(lro: Lro) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = lro("submit", "reports.generate", "rows=1", "--json", "--url", url)
    assert proc.returncode == 1, proc
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"lro: error: cannot reach the lro server at {url}: ")


def test_usage_errors_exit_2_through_the_script(lro: Lro) -> None:
    proc = lro("submit", "rows=5")
    assert proc.returncode == 2 and "OPERATION" in proc.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["submit", "reports.generate", "--json", "[1]"], "must be a JSON object"),
        (["submit", "reports.generate", "rows"], "KEY=VALUE"),
        (["status", "x", "--url", "localhost:8000"], "http://host:port"),
        (["jobs", "--status", "finished"], "unknown status"),
        (["wait", "x", "--timeout", "0"], "more than zero"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process through lro.cli.main (the script's entry point): no request is made.
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own checks
        status = int(exc.code or 0)
    assert status == 2
    assert message in capsys.readouterr().err
