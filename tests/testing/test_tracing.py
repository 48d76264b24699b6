"""Tracing (HTTP-CONTRACT §18, lro.tracing) in process: one job's exact span tree, through
the app's HTTP routes, a real worker and a real webhook receiver, recorded by the SDK's
in-memory exporter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import BaseModel

from lro import LRO, JobContext, tracing
from lro.testing import run


class Greeting(BaseModel):
    name: str


def greeter() -> LRO:
    app = LRO()

    @app.operation("greet", route="/greetings")
    async def greet(ctx: JobContext, params: Greeting) -> dict[str, str]:
        text = await ctx.run_step("compose", lambda: f"hello {params.name}")
        return {"text": text}

    return app


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    """Tracing on for this test only, into a provider the test reads."""
    provider = TracerProvider()
    assert tracing.configure(provider)
    try:
        yield provider
    finally:
        tracing.disable()
        provider.shutdown()


class _Ended(SpanProcessor):
    """Wakes the test when a span of this name ends (in whichever thread ends it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def on_end(self, span: ReadableSpan) -> None:
        if span.name == self.name:
            self.loop.call_soon_threadsafe(self.event.set)


async def test_one_job_is_one_trace_from_submit_to_webhook(
    tmp_path: Path, provider: TracerProvider
) -> None:
    spans, webhook_ended = InMemorySpanExporter(), _Ended("lro.webhook")
    provider.add_span_processor(SimpleSpanProcessor(spans))
    provider.add_span_processor(webhook_ended)
    # A caller's span: its traceparent is what the submit request carries.
    tracer = provider.get_tracer("test")
    async with run(greeter(), path=tmp_path) as t, t.background_worker() as worker:
        # Not made current: the in-process app must find it in the header, as a remote
        # server would (an active span would make the server span INTERNAL).
        caller = tracer.start_span("caller")
        headers: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(headers, context=trace.set_span_in_context(caller))
        caller.end()
        accepted = await t.client.post(
            "/api/v1/greetings",
            json={"name": "ada", "callback_url": t.webhooks.url},
            headers=headers,
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        [hook] = await t.webhooks.wait_for(1)
        async with asyncio.timeout(30):  # the webhook span ends just after the answer
            await webhook_ended.event.wait()
        finished = spans.get_finished_spans()
        stored = (await t.job(job_id)).trace_context

    trace_id = caller.get_span_context().trace_id
    mine = [s for s in finished if s.context.trace_id == trace_id]
    by_name = {s.name: s for s in mine}
    assert sorted(by_name) == sorted(
        [
            *("caller", "POST /api/v1/greetings", "lro.queue_wait", "lro.attempt"),
            *("lro.step", "lro.webhook", "POST"),
        ]
    ), [s.name for s in mine]
    assert len(mine) == len(by_name)  # each exactly once

    def parent(name: str) -> str | None:
        span = by_name[name]
        if span.parent is None:
            return None
        [found] = [s.name for s in mine if s.context.span_id == span.parent.span_id]
        return found

    server = "POST /api/v1/greetings"
    assert {name: parent(name) for name in by_name} == {
        "caller": None,
        server: "caller",
        "lro.queue_wait": server,
        "lro.attempt": server,
        "lro.step": "lro.attempt",
        "lro.webhook": server,
        "POST": "lro.webhook",
    }
    assert by_name[server].kind is SpanKind.SERVER
    assert by_name["POST"].kind is SpanKind.CLIENT
    job = {"lro.job_id": job_id, "lro.operation": "greet", "lro.attempt": 1}
    assert dict(by_name["lro.queue_wait"].attributes or {}) == job
    assert dict(by_name["lro.attempt"].attributes or {}) == {
        **job,
        "lro.worker_id": worker.id,
        "lro.outcome": "completing",
    }
    assert dict(by_name["lro.step"].attributes or {}) == {"lro.step": "compose"}
    assert dict(by_name["lro.webhook"].attributes or {}) == {
        "lro.job_id": job_id,
        "lro.operation": "greet",
        "lro.delivery_id": hook.id,
        "lro.event_type": "job.completed",
        "lro.delivery_attempt": 1,
    }
    wait, attempt = by_name["lro.queue_wait"], by_name["lro.attempt"]
    assert wait.start_time is not None and wait.end_time is not None
    assert attempt.start_time is not None
    assert wait.start_time <= wait.end_time <= attempt.start_time

    # The stored context is the submit's server span; the webhook carries the httpx span.
    server_ctx = by_name[server].context
    assert stored is not None
    assert json.loads(stored)["traceparent"] == (
        f"00-{server_ctx.trace_id:032x}-{server_ctx.span_id:016x}-{server_ctx.trace_flags:02x}"
    )
    client_ctx = by_name["POST"].context
    assert hook.headers["traceparent"] == (
        f"00-{trace_id:032x}-{client_ctx.span_id:016x}-{client_ctx.trace_flags:02x}"
    )
    assert hook.data["status"] == "completed"


async def test_tracing_off_stores_no_context_and_sends_no_traceparent(tmp_path: Path) -> None:
    assert not tracing.enabled()
    async with run(greeter(), path=tmp_path) as t:
        accepted = await t.client.post(
            "/api/v1/greetings", json={"name": "bo", "callback_url": t.webhooks.url}
        )
        await t.run_until_idle()
        [hook] = await t.webhooks.wait_for(1)
        job: Any = await t.job(accepted.json()["job_id"])
    assert job.trace_context is None
    assert "traceparent" not in hook.headers


async def test_a_retried_job_has_one_queue_wait_and_one_attempt_span_per_attempt(
    tmp_path: Path, provider: TracerProvider
) -> None:
    """Submitted from Python inside the caller's span: that span is the stored parent."""
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    app = LRO()

    @app.operation("flaky")
    async def flaky(ctx: JobContext) -> str:
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "ok"

    async with run(app, path=tmp_path) as t:
        with provider.get_tracer("test").start_as_current_span("caller") as caller:
            job = await t.submit("flaky")
        await t.run_until_idle()
        assert (await t.job(job.id)).status.value == "completed"

    finished = spans.get_finished_spans()
    caller_id = caller.get_span_context().span_id
    ours = sorted(
        (s for s in finished if s.name.startswith("lro.")),
        key=lambda s: (s.start_time or 0, s.name),
    )
    assert [
        (s.name, (s.attributes or {})["lro.attempt"], (s.attributes or {}).get("lro.outcome"))
        for s in ours
    ] == [
        ("lro.queue_wait", 1, None),
        ("lro.attempt", 1, "retried"),
        ("lro.queue_wait", 2, None),
        ("lro.attempt", 2, "completing"),
    ]
    assert all(s.parent is not None and s.parent.span_id == caller_id for s in ours)
    assert {s.context.trace_id for s in ours} == {caller.get_span_context().trace_id}


async def test_a_sync_handlers_steps_are_children_of_its_attempt(
    tmp_path: Path, provider: TracerProvider
) -> None:
    """A sync handler runs in a pool thread, in a copy of the attempt's context."""
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    app = LRO()

    @app.operation("steps.sync")
    def two_steps(ctx: JobContext) -> int:
        a = ctx.run_step_sync("first", lambda: 1)
        return int(ctx.run_step_sync("second", lambda: a + 1))

    async with run(app, path=tmp_path) as t:
        job = await t.submit("steps.sync")
        await t.run_until_idle()
        assert (await t.job(job.id)).result == 2

    finished = spans.get_finished_spans()
    [attempt] = [s for s in finished if s.name == "lro.attempt"]
    steps = [s for s in finished if s.name == "lro.step"]
    assert [(s.attributes or {}).get("lro.step") for s in steps] == ["first", "second"]
    assert all(s.parent is not None and s.parent.span_id == attempt.context.span_id for s in steps)
