"""Optional OpenTelemetry tracing (HTTP-CONTRACT §18): the one module that imports it.

With the `lro[otel]` extra installed and tracing configured by the standard `OTEL_*`
variables (or a tracer provider the application set itself, say by
`opentelemetry-instrument`), a submit's W3C trace context is stored with the job and the
job's queue wait, attempts, steps and webhook deliveries are spans of that trace; the
FastAPI and httpx instrumentations of opentelemetry-python-contrib make the request spans
and carry `traceparent` on every webhook. Without the extra, or with tracing not
configured, every function here does nothing, so the rest of lro never asks which.

Why the stored context is only `traceparent`/`tracestate` (as a JSON object): a job runs
in another process, maybe hours later; W3C trace context is what every tracer reads, and
baggage is the application's business, not the job store's.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any


def _extra_installed() -> bool:
    """The `lro[otel]` extra's packages are all there (found, not imported). The API
    alone is not enough: FastAPI itself depends on opentelemetry-api."""
    try:
        return all(
            importlib.util.find_spec(name) is not None
            for name in (
                "opentelemetry.trace",
                "opentelemetry.sdk.trace",
                "opentelemetry.instrumentation.fastapi",
                "opentelemetry.instrumentation.httpx",
            )
        )
    except ImportError:  # a parent package is missing
        return False


AVAILABLE = _extra_installed()
"""False without the extra: tracing is off, and costs nothing."""
if AVAILABLE:
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from fastapi import FastAPI

    from lro.models import Job

TRACER_NAME = "lro"
_state: dict[str, Any] = {"provider": None, "httpx": False}


def configure(provider: Any = None) -> bool:
    """Turn tracing on, once per process; True when it is on.

    `provider` (an SDK TracerProvider: tests give one with an in-memory exporter) wins;
    else a real provider the application already set globally; else one built from the
    `OTEL_*` variables when they ask for an exporter. Nothing when the extra is absent."""
    if not AVAILABLE:
        return False
    if provider is not None:
        _state["provider"] = provider
    elif _state["provider"] is None:
        found = trace.get_tracer_provider()
        if not isinstance(found, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
            _state["provider"] = found
        elif _wanted_by_env():
            built = _provider_from_env()
            trace.set_tracer_provider(built)
            _state["provider"] = built
    if _state["provider"] is None:
        return False
    if not _state["httpx"]:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument(tracer_provider=_state["provider"])
        _state["httpx"] = True
    return True


def disable() -> None:
    """Tracing off again (tests): lro's spans stop and httpx is no longer instrumented."""
    if AVAILABLE and _state["httpx"]:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().uninstrument()
    _state.update(provider=None, httpx=False)


def enabled() -> bool:
    return _state["provider"] is not None


def _wanted_by_env() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    # An OTLP endpoint named is a request to export there (OTLP is the spec's default).
    return any(
        os.environ.get(name)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _provider_from_env() -> Any:
    """An SDK provider whose resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`),
    sampler (`OTEL_TRACES_SAMPLER`) and batching (`OTEL_BSP_*`) the SDK reads from the
    environment, exporting to each exporter of `OTEL_TRACES_EXPORTER` (default `otlp`),
    found by the entry points the exporter packages register."""
    from importlib.metadata import entry_points

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "lro")})
    provider = TracerProvider(resource=resource)
    names = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")
    for name in (n.strip() for n in names if n.strip()):
        found = entry_points(group="opentelemetry_traces_exporter", name=name)
        if not found:
            raise RuntimeError(f"OTEL_TRACES_EXPORTER={name!r}: no such span exporter installed")
        exporter = next(iter(found)).load()()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def instrument_app(app: FastAPI) -> None:
    """The FastAPI instrumentation on this app, when tracing is on: its server spans are
    what a submit's job joins (without the per-message `receive`/`send` spans)."""
    if not configure():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=_state["provider"], exclude_spans=["receive", "send"]
    )


def current_context() -> str | None:
    """The current span's W3C trace context to store with a job (None when off)."""
    if _state["provider"] is None:
        return None
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return json.dumps(carrier, sort_keys=True) if "traceparent" in carrier else None


def _parent(stored: str | None) -> Any:
    carrier = {} if stored is None else json.loads(stored)
    return TraceContextTextMapPropagator().extract(carrier)


def _ns(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000) * 1000


def _job_attributes(job: Job) -> dict[str, Any]:
    return {"lro.job_id": job.id, "lro.operation": job.operation, "lro.attempt": job.attempt}


@contextlib.contextmanager
def attempt_span(job: Job, worker_id: str | None) -> Iterator[Any]:
    """The queue wait (submit, or a retry's due time, to the claim; recorded now) and the
    attempt's execution, both children of the submit; the attempt is current inside, so
    its steps and the handler's own spans are its children. Yields the span (or None)."""
    provider = _state["provider"]
    if provider is None:
        yield None
        return
    tracer = provider.get_tracer(TRACER_NAME)
    parent = _parent(job.trace_context)
    attributes = _job_attributes(job)
    waited_from = job.created_at if job.attempt <= 1 else job.run_at
    claimed = job.started_at or job.updated_at
    wait = tracer.start_span(
        "lro.queue_wait", context=parent, attributes=attributes, start_time=_ns(waited_from)
    )
    wait.end(end_time=max(_ns(claimed), _ns(waited_from)))
    if worker_id is not None:
        attributes["lro.worker_id"] = worker_id
    with tracer.start_as_current_span("lro.attempt", context=parent, attributes=attributes) as s:
        yield s


@contextlib.contextmanager
def step_span(name: str) -> Iterator[None]:
    """One `ctx.run_step`, a child of the current attempt."""
    provider = _state["provider"]
    if provider is None:
        yield
        return
    with provider.get_tracer(TRACER_NAME).start_as_current_span(
        "lro.step", attributes={"lro.step": name}
    ):
        yield


@contextlib.contextmanager
def webhook_span(job: Job, delivery_id: str, event_type: str, attempt: int) -> Iterator[None]:
    """One webhook delivery attempt, a child of the submit; the httpx instrumentation's
    request span inside it carries its `traceparent` to the receiver."""
    provider = _state["provider"]
    if provider is None:
        yield
        return
    attributes = {
        "lro.job_id": job.id,
        "lro.operation": job.operation,
        "lro.delivery_id": delivery_id,
        "lro.event_type": event_type,
        "lro.delivery_attempt": attempt,
    }
    with provider.get_tracer(TRACER_NAME).start_as_current_span(
        "lro.webhook", context=_parent(job.trace_context), attributes=attributes
    ):
        yield


def set_outcome(span: Any, outcome: str) -> None:
    if span is not None:
        span.set_attribute("lro.outcome", outcome)
