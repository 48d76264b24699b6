"""`make bench-webhooks`: how fast the outbox dispatcher delivers, and what a failing receiver
does to everyone else's webhooks. Prints one table. Not a test: nothing is asserted.

    .venv/bin/python bench/webhooks.py [--jobs 1000] [--rate 50] [--seconds 20] [--fail-pct 10]
                                       [--timeout 5] [--schedule 1,1,1,1,1]
                                       [--backends sqlite,postgresql] [--cases drain,baseline,
                                       fail,blackhole] [--pg URL] [--json FILE] [--keep]

For each backend (a SQLite file in a temporary directory; a fresh PostgreSQL database per
case on --pg, created and dropped by the bench), real processes are started from this
directory: ONE `lro worker webhook_app:lro` (jobs and its webhook dispatcher, default
LRO_WEBHOOK_CONCURRENCY 32, LRO_WEBHOOK_ALLOW_PRIVATE=1, a fixed LRO_WEBHOOK_SECRET) and ONE
receiver process (bench/webhook_receiver.py: a bare asyncio HTTP/1.1 server per port that
records every request's arrival time).

Cases (bench/README.md explains each figure):
  drain      --jobs jobs with a callback_url to the receiver end in the bench's own process
             with no dispatcher running, so that many deliveries are pending; then the worker
             is spawned and sends them. Deliveries/s from the spawn to the last receipt, and
             from the first receipt to the last.
  baseline   steady traffic: --rate jobs/s submitted for --seconds, every callback to a
             healthy receiver (200 at once). Delivery latency = receipt at the receiver - the
             job's finished_at, p50/p95/p99 over the healthy deliveries.
  fail       the same, with --fail-pct % of the callbacks to a receiver answering 500 at once,
             retried per --schedule.
  blackhole  the same, with those callbacks to a receiver that accepts and never answers, so
             each attempt holds a dispatcher slot for --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import webhook_app  # noqa: E402
from benchprocs import Procs, postgres_database  # noqa: E402
from lro import SubmitRequest  # noqa: E402
from lro.config import Settings  # noqa: E402

LRO_BIN = shutil.which("lro", path=str(Path(sys.executable).parent)) or "lro"
RECEIVER = BENCH_DIR / "webhook_receiver.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WORKER_CONCURRENCY = 20
STEADY_CASES = ("baseline", "fail", "blackhole")
FAILING_MODE = {"fail": "fail", "blackhole": "blackhole"}
"""A steady case may name its own failing share, e.g. `blackhole:2` (2 %)."""
SLICE_SECONDS = 5.0


# -- helpers ---------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds; NaN once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process's main thread spent runnable but waiting for a CPU
    (/proc/PID/schedstat): how much other load on the machine held it back."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


@dataclass(frozen=True)
class Receipt:
    at: float
    mode: str
    job_id: str
    webhook_id: str
    open: int


def read_receipts(path: Path) -> list[Receipt]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 5:
            out.append(Receipt(float(parts[0]), parts[1], parts[2], parts[3], int(parts[4])))
    return out


def count_mode(path: Path, mode: str) -> int:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    return data.count(f" {mode} ".encode())


@dataclass
class Receivers:
    proc: subprocess.Popen[bytes]
    out: Path
    ports: dict[str, int]

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.ports[mode]}/hook"


async def start_receivers(procs: Procs, name: str, modes: list[str]) -> Receivers:
    out = procs.workdir / f"{name}.receipts"
    ready = procs.workdir / f"{name}.ready"
    argv = [sys.executable, str(RECEIVER), "--out", str(out), "--ready", str(ready), *modes]
    proc = procs.start(name, argv, dict(os.environ))
    deadline = time.monotonic() + 20
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the receiver did not start (see {procs.workdir}/{name}.log)")
        await asyncio.sleep(0.02)
    ports = {}
    for line in ready.read_text().splitlines():
        mode, _, port = line.partition("=")
        ports[mode] = int(port)
    return Receivers(proc, out, ports)


@dataclass
class Backend:
    name: str
    workdir: Path
    pg: str | None = None
    created: list[str] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def store(self, case: str) -> AsyncIterator[str]:
        """A fresh, empty store for one case; a PostgreSQL database is dropped afterwards."""
        if self.pg is None:
            yield f"sqlite:///{self.workdir / f'{self.name}-{case}.db'}"
            return
        async with postgres_database(self.pg, f"lro_bench_webhooks_{case}") as url:
            yield url

    def env(self, store_url: str, args: argparse.Namespace) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LRO_")}
        env.update(
            {
                "LRO_STORE_URL": store_url,
                "LRO_RESULT_DIR": str(self.workdir / "results"),
                "LRO_WEBHOOK_ALLOW_PRIVATE": "1",
                "LRO_WEBHOOK_SECRET": SECRET,
                "LRO_WEBHOOK_TIMEOUT_SECONDS": f"{args.timeout:g}",
                "LRO_WEBHOOK_RETRY_SCHEDULE": args.schedule,
            }
        )
        return env

    def settings(self, args: argparse.Namespace) -> Settings:
        """The bench process's own settings: it submits private callback URLs."""
        return Settings(
            webhook_allow_private=True,
            webhook_secret=SECRET,
            webhook_timeout_seconds=args.timeout,
            webhook_retry_schedule=args.schedule,
            result_dir=str(self.workdir / "results"),
        )


async def outbox_counts(store_url: str) -> dict[str, int]:
    """Deliveries by status, straight from the outbox table."""
    if store_url.startswith("sqlite:///"):
        path = store_url.removeprefix("sqlite:///")

        def read() -> dict[str, int]:
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
                rows = conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status")
                return {str(s): int(n) for s, n in rows}

        return await asyncio.to_thread(read)
    import asyncpg

    conn = await asyncpg.connect(store_url, timeout=10)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM lro_deliveries GROUP BY status")
        return {str(r["status"]): int(r["n"]) for r in rows}
    finally:
        await conn.close()


async def wait_until(done: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `done()` until it is true (True) or `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


async def ok_attempt_ms(store_url: str) -> list[float]:
    """duration_ms of every attempt answered 200: the sender's own share of the latency."""
    sql = "SELECT duration_ms FROM {} WHERE status_code = 200"
    if store_url.startswith("sqlite:///"):
        path = store_url.removeprefix("sqlite:///")

        def read() -> list[float]:
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
                return [float(r[0]) for r in conn.execute(sql.format("delivery_attempts"))]

        return await asyncio.to_thread(read)
    import asyncpg

    conn = await asyncpg.connect(store_url, timeout=10)
    try:
        return [float(r[0]) for r in await conn.fetch(sql.format("lro_delivery_attempts"))]
    finally:
        await conn.close()


def worker_argv() -> list[str]:
    return [LRO_BIN, "worker", "webhook_app:lro", "--concurrency", str(WORKER_CONCURRENCY)]


# -- case 1: draining a backlog of pending deliveries -------------------------------------------
async def bench_drain(backend: Backend, args: argparse.Namespace) -> dict[str, Any]:
    jobs = args.jobs
    procs = Procs(backend.workdir, BENCH_DIR)
    try:
        async with backend.store("drain") as url:
            rx = await start_receivers(procs, f"{backend.name}-drain-receiver", ["ok"])
            # End the jobs here, with a worker whose dispatcher never starts.
            app = webhook_app.make_app(url, settings=backend.settings(args), dispatch=False)
            async with app.running():
                worker = app.worker(WORKER_CONCURRENCY)
                await worker.start()
                try:
                    for start in range(0, jobs, 500):
                        await app.submit_many(
                            [
                                SubmitRequest(
                                    webhook_app.OPERATION, {"i": i}, callback_url=rx.url("ok")
                                )
                                for i in range(start, min(jobs, start + 500))
                            ]
                        )
                    deadline = time.monotonic() + 120
                    while (await outbox_counts(url)).get("pending", 0) < jobs:
                        if time.monotonic() > deadline:
                            return {"note": "the jobs did not all end within 120 s"}
                        await asyncio.sleep(0.1)
                finally:
                    await worker.stop(5)
            pending = (await outbox_counts(url)).get("pending", 0)
            if count_mode(rx.out, "ok"):
                return {"note": "deliveries were sent before the worker was spawned"}

            cpu_rx0 = cpu_seconds(rx.proc.pid)
            t_spawn = time.time()
            w = procs.start(
                f"{backend.name}-drain-worker",
                [*worker_argv(), "--log-level", "warning"],
                backend.env(url, args),
            )
            deadline = time.monotonic() + args.drain_timeout
            got, got_first, cpu_w_first = 0, 0, float("nan")
            while got < jobs and time.monotonic() < deadline and w.poll() is None:
                await asyncio.sleep(0.01)
                got = count_mode(rx.out, "ok")
                if got and not got_first:  # CPU from here on is sending, not booting
                    got_first, cpu_w_first = got, cpu_seconds(w.pid)
            t_seen = time.time()
            cpu_rx = cpu_seconds(rx.proc.pid) - cpu_rx0
            cpu_w = cpu_seconds(w.pid)  # the whole process life, boot included
            runq_w = runqueue_wait_seconds(w.pid)
            cpu_w_sending = cpu_w - cpu_w_first
            # Then until the store has recorded every attempt.
            recorded_at = float("nan")
            while time.monotonic() < deadline + 30:
                counts = await outbox_counts(url)
                if counts.get("pending", 0) == 0:
                    recorded_at = time.time()
                    break
                await asyncio.sleep(0.05)
            procs.stop(w)
            final = await outbox_counts(url)
    finally:
        procs.close()
    receipts = [r for r in read_receipts(rx.out) if r.mode == "ok"]
    times = sorted(r.at for r in receipts)
    n = len(times)
    span = times[-1] - times[0] if n > 1 else float("nan")
    return {
        "jobs": jobs,
        "pending_before": pending,
        "received": n,
        "distinct_webhook_ids": len({r.webhook_id for r in receipts}),
        "per_s_from_spawn": n / (times[-1] - t_spawn) if n else float("nan"),
        "per_s_first_to_last": n / span if n > 1 else float("nan"),
        "spawn_to_first_s": times[0] - t_spawn if n else float("nan"),
        "spawn_to_last_s": times[-1] - t_spawn if n else float("nan"),
        "spawn_to_all_recorded_s": recorded_at - t_spawn,
        "receiver_cpu_pct": 100 * cpu_rx / (t_seen - t_spawn),
        "worker_cpu_pct": 100 * cpu_w / (t_seen - t_spawn),
        "worker_cpu_ms_per_delivery": 1e3 * cpu_w_sending / max(1, got - got_first),
        "worker_runq_wait_pct": 100 * runq_w / (t_seen - t_spawn),
        "outbox_after": final,
    }


# -- case 2: steady traffic with a failing receiver -------------------------------------------
async def bench_steady(backend: Backend, case: str, args: argparse.Namespace) -> dict[str, Any]:
    procs = Procs(backend.workdir, BENCH_DIR)
    kind, _, share = case.partition(":")
    if kind not in STEADY_CASES:
        return {"note": f"unknown case {case!r}"}
    failing_mode = FAILING_MODE.get(kind)
    modes = ["ok", *([failing_mode] if failing_mode else [])]
    total = round(args.rate * args.seconds)
    fail_pct = (float(share) if share else args.fail_pct) if failing_mode else 0.0
    kinds: dict[str, str] = {}  # job id -> "ok" | failing mode
    try:
        async with backend.store(case.replace(":", "_")) as url:
            tag = f"{backend.name}-{case.replace(':', '_')}"
            rx = await start_receivers(procs, f"{tag}-receiver", modes)
            app = webhook_app.make_app(url, settings=backend.settings(args), dispatch=False)
            async with app.running():  # opens and migrates the store before the worker does
                w = procs.start(
                    f"{tag}-worker",
                    [*worker_argv(), "--log-level", "info"],
                    backend.env(url, args),
                )
                # Warm-up: the worker runs a job and delivers its webhook.
                warm = await app.submit(webhook_app.OPERATION, {}, callback_url=rx.url("ok"))
                deadline = time.monotonic() + 60
                while count_mode(rx.out, "ok") < 1:
                    if time.monotonic() > deadline or w.poll() is not None:
                        return {"note": "the worker did not deliver the warm-up webhook"}
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.5)

                cpu_w0, cpu_rx0 = cpu_seconds(w.pid), cpu_seconds(rx.proc.pid)
                runq_w0 = runqueue_wait_seconds(w.pid)
                t0 = time.time()
                lag = []
                for k in range(total):
                    due = t0 + k / args.rate
                    wait = due - time.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    lag.append(time.time() - due)
                    failing = int((k + 1) * fail_pct / 100) > int(k * fail_pct / 100)
                    mode = failing_mode if failing and failing_mode else "ok"
                    job = await app.submit(
                        webhook_app.OPERATION, {"i": k}, callback_url=rx.url(mode)
                    )
                    kinds[job.id] = mode
                t_end = time.time()
                cpu_w = cpu_seconds(w.pid) - cpu_w0
                cpu_rx = cpu_seconds(rx.proc.pid) - cpu_rx0
                runq_w = runqueue_wait_seconds(w.pid) - runq_w0
                healthy = sum(1 for m in kinds.values() if m == "ok")
                await wait_until(lambda: count_mode(rx.out, "ok") >= healthy + 1, args.tail)
                t_tail = time.time()
                procs.stop(w)
                finished = {}
                for job_id in kinds:
                    stored = await app.store.get_job(job_id)
                    if stored is not None and stored.finished_at is not None:
                        finished[job_id] = stored.finished_at.timestamp()
            final = await outbox_counts(url)
            send_ms = await ok_attempt_ms(url)
    finally:
        procs.close()
    receipts = read_receipts(rx.out)
    first_ok: dict[str, float] = {}
    for r in receipts:
        if r.mode == "ok" and r.job_id != warm.id:
            first_ok[r.job_id] = min(r.at, first_ok.get(r.job_id, r.at))
    pairs = [(finished[j], first_ok[j] - finished[j]) for j in first_ok if j in finished]
    delays = [d for _, d in pairs]
    slices: list[float] = []
    for s in range(int(args.seconds // SLICE_SECONDS)):
        lo, hi = t0 + s * SLICE_SECONDS, t0 + (s + 1) * SLICE_SECONDS
        part = [d for f, d in pairs if lo <= f < hi]
        slices.append(statistics.median(part) * 1e3 if part else float("nan"))
    failing_receipts = [r for r in receipts if failing_mode and r.mode == failing_mode]
    in_window = [r for r in failing_receipts if r.at <= t_end]
    result: dict[str, Any] = {
        "case": case,
        "fail_pct": fail_pct,
        "submitted": total,
        "achieved_rate": total / (t_end - t0),
        "submit_lag_p99_ms": pct(lag, 99) * 1e3,
        "healthy_expected": sum(1 for m in kinds.values() if m == "ok"),
        "healthy_received": len(first_ok),
        "healthy_in_window": sum(1 for j, at in first_ok.items() if at <= t_end),
        "last_healthy_after_window_s": max(first_ok.values()) - t_end if first_ok else None,
        "tail_waited_s": t_tail - t_end,
        "failing_jobs": sum(1 for m in kinds.values() if m != "ok"),
        "failing_requests_in_window": len(in_window),
        "failing_requests_total": len(failing_receipts),
        "peak_held_connections": max((r.open for r in failing_receipts), default=0),
        "worker_cpu_pct": 100 * cpu_w / (t_end - t0),
        "receiver_cpu_pct": 100 * cpu_rx / (t_end - t0),
        "worker_runq_wait_pct": 100 * runq_w / (t_end - t0),
        "p50_median_by_5s_slice_ms": slices,
        "send_200_p50_ms": pct(send_ms, 50) if send_ms else None,
        "outbox_after": final,
    }
    if delays:
        ms = [d * 1e3 for d in delays]
        result.update(p50_ms=pct(ms, 50), p95_ms=pct(ms, 95), p99_ms=pct(ms, 99), max_ms=max(ms))
    return result


# -- table -------------------------------------------------------------------------------------
def fmt(value: Any, spec: str = ",.0f") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, spec)


def table(results: dict[str, Any], args: argparse.Namespace) -> str:
    backends = [b for b in results["backends"] if b in results]
    lines: list[str] = []
    drain_rows: list[tuple[str, list[str]]] = []
    drains = {b: results[b].get("drain") for b in backends}
    if any(drains.values()):
        lines.append(
            f"1) {args.jobs:,} pending deliveries, ONE `lro worker` spawned to send them "
            "(LRO_WEBHOOK_CONCURRENCY 32), receiver answering 200 at once"
        )

        def cell(b: str, key: str, spec: str = ",.0f") -> str:
            d = drains[b]
            if not d:
                return "-"
            if "note" in d:
                return str(d["note"])
            return fmt(d.get(key), spec)

        specs = [
            ("deliveries/s, worker spawn -> last receipt", "per_s_from_spawn", ",.0f"),
            ("deliveries/s, first -> last receipt", "per_s_first_to_last", ",.0f"),
            ("worker spawn -> first receipt (s)", "spawn_to_first_s", ".2f"),
            ("worker spawn -> all recorded delivered (s)", "spawn_to_all_recorded_s", ".2f"),
            ("received", "received", ",.0f"),
            ("distinct webhook-ids received", "distinct_webhook_ids", ",.0f"),
            ("receiver CPU, spawn -> last (% of one core)", "receiver_cpu_pct", ".0f"),
            ("worker CPU, spawn -> last (% of one core)", "worker_cpu_pct", ".0f"),
            ("worker CPU per delivery, after the first (ms)", "worker_cpu_ms_per_delivery", ".2f"),
            ("worker waiting for a CPU, spawn -> last (%)", "worker_runq_wait_pct", ".0f"),
        ]
        drain_rows = [(label, [cell(b, key, spec) for b in backends]) for label, key, spec in specs]
        width = max(len(r[0]) for r in drain_rows)
        cols = [max(len(b), *(len(r[1][i]) for r in drain_rows)) for i, b in enumerate(backends)]
        head = "  ".join(f"{b:>{cols[i]}}" for i, b in enumerate(backends))
        lines.append(f"{'figure':<{width}}  {head}")
        lines.append(f"{'-' * width}  " + "  ".join("-" * c for c in cols))
        for name, values in drain_rows:
            vals = "  ".join(f"{v:>{cols[i]}}" for i, v in enumerate(values))
            lines.append(f"{name:<{width}}  {vals}")
        lines.append("")
    steady = [(b, c, r) for b in backends for c, r in results[b].items() if c != "drain"]
    if steady:
        lines.append(
            f"2) steady {args.rate:g} jobs/s for {args.seconds:g} s; latency = receipt at the "
            "healthy receiver - job finished_at (healthy deliveries only); "
            f"LRO_WEBHOOK_TIMEOUT_SECONDS={args.timeout:g}, "
            f"LRO_WEBHOOK_RETRY_SCHEDULE={args.schedule}"
        )
        header = (
            "backend",
            "case",
            "healthy recv/exp",
            "in window",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "send ms",
            "p50 per 5 s ms",
            "failing reqs",
            "held",
            "worker CPU",
            "w. waits",
            "rx CPU",
        )
        rows = [header]
        for b, case, r in steady:
            kind = case.partition(":")[0]
            c = kind if kind == "baseline" else f"{kind} {r.get('fail_pct', 0):g}%"
            if "note" in r:
                rows.append((b, c, r["note"], *[""] * (len(header) - 3)))
                continue
            rows.append(
                (
                    b,
                    c,
                    f"{r['healthy_received']}/{r['healthy_expected']}",
                    f"{r['healthy_in_window']}",
                    fmt(r.get("p50_ms")),
                    fmt(r.get("p95_ms")),
                    fmt(r.get("p99_ms")),
                    fmt(r.get("max_ms")),
                    fmt(r.get("send_200_p50_ms"), ".1f"),
                    " ".join(fmt(v) for v in r["p50_median_by_5s_slice_ms"]),
                    f"{r['failing_requests_total']}" if kind != "baseline" else "-",
                    f"{r['peak_held_connections']}" if kind == "blackhole" else "-",
                    f"{r['worker_cpu_pct']:.0f}%",
                    f"{r['worker_runq_wait_pct']:.0f}%",
                    f"{r['receiver_cpu_pct']:.0f}%",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for n, row in enumerate(rows):
            lines.append("  ".join(f"{v:<{widths[i]}}" for i, v in enumerate(row)))
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines.append(
            "send ms: p50 duration of the answered attempts as the sender measured them; "
            "p50 per 5 s: median latency of the jobs\nthat finished in each 5 s of the window; "
            "failing reqs: requests the failing receiver got (attempts, retries included); "
            "held:\nmost black-hole connections open at once (dispatcher slots held); "
            "w. waits: time the worker's event-loop thread was\nrunnable but had no CPU "
            "(other load on the machine), % of the window."
        )
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------
async def pg_reachable(server: str) -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(f"{server}/postgres", timeout=5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    cases = [c for c in args.cases.split(",") if c]
    workdir = Path(tempfile.mkdtemp(prefix="lro-bench-webhooks-"))
    backends = [b for b in args.backends.split(",") if b]
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_start": os.getloadavg()[0],
        "backends": backends,
        "args": vars(args),
    }
    try:
        for name in backends:
            pg = None
            if name == "postgresql":
                problem = await pg_reachable(args.pg)
                if problem:
                    print(f"postgresql: skipped, {args.pg} unreachable: {problem}", file=sys.stderr)
                    continue
                pg = args.pg
            backend = Backend(name, workdir, pg)
            out: dict[str, Any] = {}
            results[name] = out
            for case in cases:
                print(f"{name}: {case} ...", file=sys.stderr, flush=True)
                t = time.monotonic()
                if case == "drain":
                    out[case] = await bench_drain(backend, args)
                else:
                    out[case] = await bench_steady(backend, case, args)
                print(f"  {time.monotonic() - t:.0f} s", file=sys.stderr, flush=True)
    finally:
        results["load_average_end"] = os.getloadavg()[0]
        if args.keep:
            print(f"logs and databases kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="pending deliveries to drain")
    parser.add_argument("--rate", type=float, default=50.0, help="jobs/s of the steady cases")
    parser.add_argument("--seconds", type=float, default=20.0, help="steady window")
    parser.add_argument("--fail-pct", type=float, default=10.0, help="%% to the failing receiver")
    parser.add_argument("--timeout", type=float, default=5.0, help="LRO_WEBHOOK_TIMEOUT_SECONDS")
    parser.add_argument("--schedule", default="1,1,1,1,1", help="LRO_WEBHOOK_RETRY_SCHEDULE")
    parser.add_argument(
        "--tail", type=float, default=30.0, help="wait after the window for late healthy ones"
    )
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--cases", default="drain,baseline,fail,blackhole")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--json", metavar="FILE", help="also append the results as a JSON line")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    try:
        results = asyncio.run(main_async(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: processes stopped, databases dropped", file=sys.stderr)
        raise SystemExit(130) from None
    print(
        f"lro webhook benchmarks, {results['date']}, {results['machine']}, load average "
        f"{results['load_average_start']:.1f} -> {results['load_average_end']:.1f}"
    )
    print(table(results, args))
    if args.json:
        with open(args.json, "a") as fh:
            fh.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
