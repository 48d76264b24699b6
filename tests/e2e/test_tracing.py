"""Tracing end to end (HTTP-CONTRACT §18): a real `lro serve` (demo app, embedded worker)
configured only by `OTEL_TRACES_EXPORTER=console` prints one trace per job, from the submit
request to the webhook, whose `traceparent` the receiver gets; and with the `lro[otel]`
extra absent (its SDK and instrumentations blocked from import) jobs run as before,
tracing nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.postgres import create_database, drop_database, url_for
from tests.support.procs import API, ProcessGroup, is_terminal, start_server, wait_job
from tests.support.receiver import Receiver


def console_spans(log: str) -> list[dict[str, Any]]:
    """The JSON objects the SDK's ConsoleSpanExporter wrote among the process's log lines."""
    decoder, spans, at = json.JSONDecoder(), [], 0
    while (at := log.find("{\n", at)) != -1:
        try:
            value, end = decoder.raw_decode(log, at)
        except json.JSONDecodeError:
            at += 1
            continue
        if isinstance(value, dict) and "context" in value and "name" in value:
            spans.append(value)
        at = end
    return spans


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """The group's SQLite file, or a fresh PostgreSQL database: there an idle embedded
    worker is parked, and a submit may hand it the job directly (the row read from the
    NOTIFY rather than from a claim), which must carry the trace context as well."""
    if request.param == "sqlite":
        yield None
        return
    name = asyncio.run(create_database())
    try:
        yield url_for(name)
    finally:
        asyncio.run(drop_database(name))


def test_lro_serve_prints_the_jobs_trace_with_the_console_exporter(
    procs: ProcessGroup, store_url: str | None
) -> None:
    receiver = Receiver().start()
    procs.env.update({"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "lro-e2e"})
    if store_url is not None:
        procs.env["LRO_STORE_URL"] = store_url
    base = start_server(procs, worker=True)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            body = {"rows": 3, "delay_seconds": 0, "callback_url": receiver.url}
            accepted = client.post(f"{API}/reports", json=body)
            assert accepted.status_code == 202, accepted.text
            job_id = accepted.json()["job_id"]
            [request] = receiver.wait_requests(1)
            ended = wait_job(client, job_id, is_terminal, what="to end", group=procs)
            assert ended["status"] == "completed"
    finally:
        receiver.stop()
    server = procs.procs[0]
    server.signal(signal.SIGTERM)  # the batch processor exports the rest at exit
    assert server.wait_exit(30) == 0, server.log()
    spans = console_spans(server.log(tail=100_000))

    ours = [s for s in spans if s["attributes"].get("lro.job_id") == job_id]
    assert sorted(s["name"] for s in ours) == ["lro.attempt", "lro.queue_wait", "lro.webhook"]
    [trace_id] = {s["context"]["trace_id"] for s in ours}
    in_trace = {s["name"]: s for s in spans if s["context"]["trace_id"] == trace_id}
    assert sorted(s["name"] for s in spans if s["context"]["trace_id"] == trace_id) == [
        "POST",
        "POST /api/v1/reports",
        "lro.attempt",
        "lro.queue_wait",
        "lro.webhook",
    ]
    submit = in_trace["POST /api/v1/reports"]
    assert submit["kind"] == "SpanKind.SERVER"
    assert submit["resource"]["attributes"]["service.name"] == "lro-e2e"
    for name in ("lro.queue_wait", "lro.attempt", "lro.webhook"):
        assert in_trace[name]["parent_id"] == submit["context"]["span_id"], name
    webhook_request = in_trace["POST"]
    assert webhook_request["kind"] == "SpanKind.CLIENT"
    assert webhook_request["parent_id"] == in_trace["lro.webhook"]["context"]["span_id"]
    version, sent_trace, sent_span, _flags = request.headers["traceparent"].split("-")
    assert (version, f"0x{sent_trace}", f"0x{sent_span}") == (
        "00",
        trace_id,
        webhook_request["context"]["span_id"],
    )


BLOCK_OTEL = """\
import importlib.abc, sys

class _NoOtel(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        # What `pip install lro` lacks; opentelemetry-api stays (FastAPI needs it).
        if name.split(".")[:2] in (["opentelemetry", "sdk"], ["opentelemetry", "instrumentation"]):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: the extra is absent)")
        return None

sys.meta_path.insert(0, _NoOtel())
"""

WITHOUT_EXTRA = """\
import asyncio, json, sys
import lro.tracing as tracing
from lro.testing import run
from lro import LRO

assert not tracing.AVAILABLE
assert not tracing.configure()
app = LRO()

@app.operation("greet", route="/greetings")
async def greet(ctx) -> dict:
    return {"text": await ctx.run_step("compose", lambda: "hello")}

async def main() -> None:
    async with run(app) as t:
        r = await t.client.post("/api/v1/greetings", json={"callback_url": t.webhooks.url})
        await t.run_until_idle()
        [hook] = await t.webhooks.wait_for(1)
        job = await t.job(r.json()["job_id"])
        print(json.dumps({"status": job.status.value, "trace_context": job.trace_context,
                          "traceparent": hook.headers.get("traceparent"),
                          "sdk_loaded": "opentelemetry.sdk" in sys.modules}))

asyncio.run(main())
"""


def test_without_the_extra_tracing_does_nothing_and_jobs_run(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_OTEL)
    env = {"PYTHONPATH": str(site), "OTEL_TRACES_EXPORTER": "console", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRA],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "status": "completed",
        "trace_context": None,
        "traceparent": None,
        "sdk_loaded": False,
    }


@pytest.mark.smoke
def test_a_separate_worker_process_continues_the_submits_trace(procs: ProcessGroup) -> None:
    """The API process and an `lro worker` process each export their own spans; the
    worker's attempt joins the trace of the API's submit span through the stored context."""
    receiver = Receiver().start()
    procs.env.update({"OTEL_TRACES_EXPORTER": "console"})
    base = start_server(procs, worker=False)
    worker = procs.start("worker", ["worker"])
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            body = {"rows": 2, "delay_seconds": 0, "callback_url": receiver.url}
            accepted = client.post(f"{API}/reports", json=body)
            assert accepted.status_code == 202, accepted.text
            job_id = accepted.json()["job_id"]
            [request] = receiver.wait_requests(1)
            ended = wait_job(client, job_id, is_terminal, what="to end", group=procs)
            assert ended["status"] == "completed"
    finally:
        receiver.stop()
    api = procs.procs[0]
    for proc in (api, worker):
        proc.signal(signal.SIGTERM)
    for proc in (api, worker):
        assert proc.wait_exit(30) == 0, proc.log()
    api_spans = console_spans(api.log(tail=100_000))
    worker_spans = console_spans(worker.log(tail=100_000))

    [submit] = [s for s in api_spans if s["name"] == "POST /api/v1/reports"]
    [attempt] = [s for s in worker_spans if s["name"] == "lro.attempt"]
    assert attempt["attributes"]["lro.job_id"] == job_id
    assert attempt["context"]["trace_id"] == submit["context"]["trace_id"]
    assert attempt["parent_id"] == submit["context"]["span_id"]
    assert f":{worker.pid}:" in attempt["attributes"]["lro.worker_id"]  # host:pid:uuid
    sent_trace = request.headers["traceparent"].split("-")[1]
    assert f"0x{sent_trace}" == submit["context"]["trace_id"]
