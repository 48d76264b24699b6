"""The bundled demo app (HTTP-CONTRACT §12): `POST /api/v1/reports` renders a CSV report.

It exists so that `make run` gives a service worth poking at with curl: jobs take a
configurable time, report progress with step texts, honour cancellation, can be told to
fail with an actionable error, and finish with a real file to download. `lro serve` and
`lro worker` use it when no APP is given.
"""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from lro.app import LRO
from lro.context import JobContext
from lro.errors import PermanentError
from lro.results import File

lro = LRO()
"""The demo's LRO object; settings come from the LRO_* environment (and CLI flags)."""

RENDER_STEPS = 10
"""The rows are rendered in this many chunks, one progress step each, so every job shows at
least ten progress changes (plus "querying" and "finalizing") however small it is."""

HEADER = ("id", "customer", "region", "product", "quantity", "unit_price", "amount", "date")
_CUSTOMERS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka")
_REGIONS = ("north", "south", "east", "west")
_PRODUCTS = ("widget", "gadget", "gizmo", "doohickey", "sprocket")


class ReportParams(BaseModel):
    """Parameters of `reports.generate`."""

    rows: int = Field(ge=1, le=1_000_000, description="Data lines in the CSV (header not counted).")
    delay_seconds: float = Field(
        5.0, ge=0, le=3600, description="How long the job takes, spread over its steps."
    )
    fail_at_pct: int | None = Field(
        None,
        ge=0,
        le=100,
        description="Fail with a non-retryable error once progress reaches this percentage.",
    )


def report_row(i: int) -> tuple[str, ...]:
    """Data line `i` (1-based): deterministic, so tests and clients can check the content."""
    quantity = 1 + (i * 7) % 50
    unit_cents = 100 + (i * 7919) % 9900
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    return (
        str(i),
        _CUSTOMERS[i % len(_CUSTOMERS)],
        _REGIONS[i % len(_REGIONS)],
        _PRODUCTS[i % len(_PRODUCTS)],
        str(quantity),
        f"{unit_cents / 100:.2f}",
        f"{quantity * unit_cents / 100:.2f}",
        f"2025-{month:02d}-{day:02d}",
    )


def _chunks(rows: int, parts: int) -> Iterator[tuple[int, int]]:
    """Split 1..rows into `parts` consecutive inclusive ranges (empty ones when rows < parts)."""
    for k in range(parts):
        first = rows * k // parts + 1
        last = rows * (k + 1) // parts
        yield first, last


def _write_rows(path: Path, first: int, last: int, *, header: bool) -> None:
    with path.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        if header:
            writer.writerow(HEADER)
        writer.writerows(report_row(i) for i in range(first, last + 1))


class _Pacer:
    """Spreads `delay_seconds` over the job's steps and checks cancellation while waiting,
    so even an hour-long demo job stops within a fraction of a second of a cancel."""

    SLICE = 0.25

    def __init__(self, ctx: JobContext, total: float, steps: int) -> None:
        self._ctx = ctx
        self._per_step = total / steps

    async def wait(self) -> None:
        deadline = time.monotonic() + self._per_step
        while (left := deadline - time.monotonic()) > 0:
            self._ctx.raise_if_cancelled()
            await asyncio.sleep(min(self.SLICE, left))
        self._ctx.raise_if_cancelled()


@lro.operation(
    "reports.generate",
    route="/reports",
    estimated_duration=5,
    max_attempts=3,
    timeout=4 * 3600,
)
async def generate_report(ctx: JobContext, params: ReportParams) -> File:
    """Render a CSV report of `rows` lines, taking about `delay_seconds`."""
    steps = RENDER_STEPS + 2  # querying, RENDER_STEPS chunks, finalizing
    pacer = _Pacer(ctx, params.delay_seconds, steps)

    async def advance(pct: float, step: str) -> None:
        ctx.raise_if_cancelled()
        await ctx.progress(pct, step)
        if params.fail_at_pct is not None and pct >= params.fail_at_pct:
            raise PermanentError(
                f"The report failed on purpose at {pct:.0f}% because fail_at_pct="
                f"{params.fail_at_pct} was requested; resubmit without fail_at_pct to get "
                f"the report.",
                code="report_failed_at_requested_pct",
                title="Report generation failed (requested by fail_at_pct)",
            )

    await advance(0, "querying")
    await pacer.wait()
    path = ctx.result_path("report.csv")
    path.unlink(missing_ok=True)  # a retried attempt starts from an empty file
    for k, (first, last) in enumerate(_chunks(params.rows, RENDER_STEPS)):
        pct = 5 + 90 * k / RENDER_STEPS
        label = f"rendering rows {first}-{last}" if first <= last else "rendering (no rows left)"
        await advance(pct, label)
        # A million rows take a second or two of CPU: keep the event loop (heartbeats,
        # other jobs) responsive by rendering in a thread.
        await asyncio.to_thread(_write_rows, path, first, last, header=k == 0)
        await pacer.wait()
    await advance(95, "finalizing")
    await pacer.wait()
    await advance(100, "done")
    return File(path, content_type="text/csv", filename="report.csv")
