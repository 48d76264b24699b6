"""`make bench-sse`: one API process holding many SSE streams; memory, CPU and delivery delay.

    .venv/bin/python bench/sse.py [--streams 1000] [--window 10] [--backends sqlite,postgresql]
                                  [--scenarios floor,jobs100,jobs1000,flush0,partials]
                                  [--json FILE]

For each backend (a SQLite file in a temporary directory; a fresh PostgreSQL database on
--pg, created and dropped by the bench) and each scenario, real processes are started from
this directory: ONE `lro serve sse_app:lro --no-worker` (the process measured), ONE
`lro worker sse_app:lro` running every job at once, and client processes
(bench/sse_client.py) holding the streams. The jobs (bench/sse_app.py) call
`ctx.progress` every --interval seconds with `t=<time.time()>` as the step text.

Scenarios (bench/README.md explains each figure):
  floor     1 stream on 1 job, nothing else running: the delay floor (LRO_PROGRESS_FLUSH_SECONDS
            default, 0.25 s); run on the jobs100 server before its load arrives.
  jobs100   --streams streams on 100 jobs (each job followed by streams/100 clients).
  jobs1000  --streams streams on 1,000 jobs (one stream each).
  flush0    like jobs100 with LRO_PROGRESS_FLUSH_SECONDS=0 in the worker (every progress call
            written as soon as the previous write returns), plus its own idle floor.
  streams5000  --big-streams streams (5,000) on --big-jobs jobs (500) stepping every
            --big-interval seconds (5: 1,000 events/s, within one API process's CPU): the
            memory of many open streams (RSS idle -> all open) and every stream's audit.
  partials  --partial-streams streams (100) on ONE job making --partial-rate partials/s (100)
            with `ctx.partial({"t": time.time()})`: the `partial` events' delay, and every
            stream's seq audit (each partial seen once, in order, none missing).

Figures per row: RSS of the API process idle and with every stream open; its CPU (% of one
core, utime+stime from /proc over the window); the worker's and the clients' CPU; the live
progress events delivered per second; the delay from the progress call to the event's
arrival at a client (p50/p95/p99 over the window); and the stream audit: every stream must
see consecutive event ids from its first event to the terminal one (gaps, disorder and
streams that failed or never saw the terminal event are counted, and should all be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import sse_app  # noqa: E402
import sse_client  # noqa: E402
from benchprocs import Procs, postgres_database  # noqa: E402
from lro import LRO, Status, SubmitRequest  # noqa: E402
from lro.models import ListQuery  # noqa: E402

LRO_BIN = shutil.which("lro", path=str(Path(sys.executable).parent)) or "lro"
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_FLUSH = 0.25
QUEUED = ListQuery(statuses=[Status.QUEUED], limit=1)
STREAMS_PER_CLIENT = 500
FLOOR_INTERVAL = 0.3
"""Step interval of the floor job: above the default flush interval, so every progress call
is written on the flush's leading edge (at once) and becomes an event of its own."""

PROFILED_LRO = """
import cProfile, sys, time
from lro.cli import main
out, sys.argv = sys.argv[1], ["lro", *sys.argv[2:]]
prof = cProfile.Profile(time.thread_time)  # CPU time of the event loop's thread
try:
    prof.runcall(main, sys.argv[1:])
finally:
    prof.dump_stats(out)
"""
"""`lro ...` under cProfile with a CPU clock: waiting (for the GIL, for a CPU, for I/O)
is not counted, so the profile shows where the event loop's CPU goes."""


# -- helpers ---------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds; NaN once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """utime + stime of the main thread (the event loop) and of each other thread, by tid."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                stat = (task / "stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                name = "main" if task.name == str(pid) else f"tid {task.name}"
                out[name] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def postgres_cpu_seconds() -> dict[int, float]:
    """utime + stime of every `postgres` process on this machine, by pid (the server's
    backends, ours and anyone else's)."""
    out: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (proc / "comm").read_text().strip() == "postgres":
                    out[int(proc.name)] = cpu_seconds(int(proc.name))
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots by the processes alive at the second (a process that
    exited in between takes its share along: an undercount, never negative)."""
    return sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items() if t == t)


def runqueue_wait_seconds(pid: int) -> float:
    """Time the main thread spent runnable but waiting for a CPU (/proc/PID/schedstat):
    how much other processes on the machine held the API back."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def load_average() -> float:
    return os.getloadavg()[0]


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def latency_summary(delays: list[float]) -> dict[str, Any]:
    if not delays:
        return {"samples": 0}
    ms = [d * 1e3 for d in delays]
    return {
        "samples": len(ms),
        "p50_ms": pct(ms, 50),
        "p95_ms": pct(ms, 95),
        "p99_ms": pct(ms, 99),
        "max_ms": max(ms),
    }


def audit(streams: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the per-stream checks of the clients (bench/sse_client.py)."""
    errors = [s["error"] for s in streams if s["error"]]
    return {
        "streams": len(streams),
        "events": sum(s["events"] for s in streams),
        "gaps": sum(s["gaps"] for s in streams),
        "missing_ids": sum(s["missing"] for s in streams),
        "disorder": sum(s["disorder"] for s in streams),
        "no_terminal": sum(1 for s in streams if s["terminal"] is None),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def log_summary(path: Path) -> dict[str, int]:
    """Warnings and errors a process logged, counted by message (ids and times removed)."""
    counts: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            if " WARNING " in line or " ERROR " in line:
                key = re.sub(r"^[\d-]+ [\d:,]+ ", "", line)
                key = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", key)[:160]
                counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


async def until(
    check: Callable[[], bool], timeout: float, what: str, alive: list[subprocess.Popen[bytes]]
) -> None:
    """Poll `check` every 50 ms; fail after `timeout` or as soon as a process has exited."""
    deadline = time.monotonic() + timeout
    while not check():
        for proc in alive:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{what}: process {proc.pid} exited with status {proc.returncode} "
                    "(run with --keep for the logs)"
                )
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.05)


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


# -- the backends ------------------------------------------------------------------------------
async def pg_sessions(url: str) -> int:
    """Sessions ever opened on the database (pg_stat_database.sessions, PostgreSQL 14+)."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        return int(await conn.fetchval(query) or 0)
    finally:
        await conn.close()


# -- one scenario ------------------------------------------------------------------------------
@dataclass
class Scenario:
    name: str
    label: str
    jobs: int
    streams: int
    flush: float
    floor_seconds: float = 0.0
    """> 0: measure the idle floor (1 stream on 1 job) for this long before the load."""
    event: str = "progress"
    """The events timed: `progress` (jobs of sse_app.OPERATION) or `partial` (sse_app.PARTIALS)."""
    interval: float | None = None
    """Seconds between a job's steps; None: --interval."""


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path

    def env(self, store_url: str, flush: float | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LRO_")}
        env["LRO_STORE_URL"] = store_url
        env["LRO_RESULT_DIR"] = str(self.workdir / "results")
        env["PYTHONUNBUFFERED"] = "1"
        if flush is not None:
            env["LRO_PROGRESS_FLUSH_SECONDS"] = repr(flush)
        return env

    async def submit(
        self,
        app: LRO,
        n: int,
        stop: Path,
        go: Path | None = None,
        operation: str = sse_app.OPERATION,
        max_seconds: float = 150.0,
        **params: Any,
    ) -> list[str]:
        params |= {"stop": str(stop), "max_seconds": max_seconds}
        if go is not None:
            params["go"] = str(go)
        jobs = await app.submit_many([SubmitRequest(operation, params) for _ in range(n)])
        return [job.id for job in jobs]

    async def run(self, sc: Scenario, backend: str, store_url: str) -> dict[str, Any]:
        """Start the API and the worker, measure the floor (or just warm up), then the load;
        always stop every process and summarise what they logged."""
        tag = f"{backend}-{sc.name}"
        port = free_port()
        procs = Procs(self.workdir, BENCH_DIR)
        app = sse_app.make_app(store_url)
        out: dict[str, Any] = {
            "backend": backend,
            "scenario": sc.name,
            "label": sc.label,
            "jobs": sc.jobs,
            "streams": sc.streams,
            "flush_s": sc.flush,
        }
        try:
            async with app.running():
                serve = ["serve", "sse_app:lro", "--no-worker", "--port", str(port)]
                serve += ["--no-access-log", "--log-level", "warning"]
                argv = [LRO_BIN, *serve]
                if self.args.profile:
                    prof = self.args.profile / f"api-{tag}.prof"
                    argv = [sys.executable, "-c", PROFILED_LRO, str(prof), *serve]
                api = procs.start(f"{tag}-api", argv, self.env(store_url))
                base = f"http://127.0.0.1:{port}"
                await until(lambda: healthy(base), 60, "lro serve to answer", [api])
                worker_argv = [LRO_BIN, "worker", "sse_app:lro", "--log-level", "warning"]
                # A short grace: on an interrupted run, stop without waiting for the jobs.
                worker_argv += ["--concurrency", str(max(10, sc.jobs)), "--grace", "1"]
                worker = procs.start(f"{tag}-worker", worker_argv, self.env(store_url, sc.flush))
                out |= await self.floor(app, port, tag, sc.floor_seconds)

                # Idle: the server has served one stream and has none open now.
                await asyncio.sleep(0.5)
                c0, t0 = cpu_seconds(api.pid), time.monotonic()
                await asyncio.sleep(1.0)
                idle_cpu = (cpu_seconds(api.pid) - c0) / (time.monotonic() - t0)
                out["api_idle_cpu_pct"] = 100 * idle_cpu
                out["rss_idle_mib"] = rss_mib(api.pid)
                if sc.streams:
                    out |= await self.load(app, sc, backend, port, tag, procs, api, worker)
        except Exception as exc:  # reported in the table; the next scenario still runs
            out["note"] = f"failed: {type(exc).__name__}: {exc}".rstrip(": ")
        finally:
            procs.close()
            for role in ("api", "worker"):
                out[f"{role}_log"] = log_summary(self.workdir / f"{tag}-{role}.log")
        return out

    async def floor(self, app: LRO, port: int, tag: str, seconds: float) -> dict[str, Any]:
        """One stream on one job with nothing else running: the delay floor when `seconds`
        > 0, else a one-second warm-up of the server (only its audit is kept)."""
        stop = self.workdir / f"{tag}.stop-floor"
        job = (await self.submit(app, 1, stop, interval=FLOOR_INTERVAL))[0]
        got_first = asyncio.Event()
        deadline = time.monotonic() + 30 + seconds  # the stream's own bound, terminal included
        follower = asyncio.create_task(
            sse_client.follow("127.0.0.1", port, [job], deadline, lambda n, s: got_first.set())
        )
        try:
            await asyncio.wait_for(got_first.wait(), 60)
            t_start = time.time()
            await asyncio.sleep(seconds or 1.0)
            stop.touch()
            result = await follower
        finally:
            follower.cancel()
        checks = audit(result["streams"])
        if checks["no_terminal"]:
            stored = await app.store.get_job(job)
            checks["job_status"] = None if stored is None else stored.status.value
        if not seconds:
            return {"warmup_audit": checks}
        pairs = zip(result["arrival"], result["delay"], strict=True)
        return {
            "floor": latency_summary([d for a, d in pairs if a >= t_start]),
            "floor_audit": checks,
            "floor_interval_s": FLOOR_INTERVAL,
        }

    async def load(
        self,
        app: LRO,
        sc: Scenario,
        backend: str,
        port: int,
        tag: str,
        procs: Procs,
        api: subprocess.Popen[bytes],
        worker: subprocess.Popen[bytes],
    ) -> dict[str, Any]:
        """The jobs, claimed by the worker but waiting for `go`; the client processes open
        every stream; `go`; settle; the measuring window; `stop`; the clients' reports."""
        wd = self.workdir
        out: dict[str, Any] = {}
        # Opening streams costs the API ~5-25 ms each (more on a busy machine): the jobs,
        # the clients and the wait for them allow for it (5,000 streams: 1,150 s, 590 s).
        lifetime, opening = 150 + sc.streams / 5, 90 + sc.streams / 10
        stop, go = wd / f"{tag}.stop-load", wd / f"{tag}.go"
        if sc.event == "partial":
            rate = self.args.partial_rate
            ids = await self.submit(app, sc.jobs, stop, go, sse_app.PARTIALS, lifetime, rate=rate)
            out["events_expected_per_s"] = sc.streams * rate
        else:
            interval = sc.interval or self.args.interval
            ids = await self.submit(app, sc.jobs, stop, go, max_seconds=lifetime, interval=interval)
            out["events_expected_per_s"] = sc.streams / interval
            out["interval_s"] = interval
        deadline = time.monotonic() + 60
        while (await app.store.list_jobs(QUEUED, datetime.now(UTC))).items:
            if time.monotonic() > deadline:
                raise RuntimeError("jobs still queued after 60 s")
            await asyncio.sleep(0.1)

        jobs_file = wd / f"{tag}.jobs"
        jobs_file.write_text("\n".join(ids) + "\n")
        clients: list[subprocess.Popen[bytes]] = []
        readies: list[Path] = []
        outs: list[Path] = []
        # At most STREAMS_PER_CLIENT streams per client process, so its CPU stays far from
        # a core whatever the scenario (5,000 streams: 10 processes).
        wanted = max(self.args.client_procs, -(-sc.streams // STREAMS_PER_CLIENT))
        n_procs = max(1, min(wanted, sc.streams))
        share = -(-sc.streams // n_procs)
        for k in range(n_procs):
            first, count = k * share, min(share, sc.streams - k * share)
            readies.append(wd / f"{tag}.client{k}.ready")
            outs.append(wd / f"{tag}.client{k}.json")
            argv = [sys.executable, str(BENCH_DIR / "sse_client.py"), "--port", str(port)]
            argv += ["--jobs", str(jobs_file), "--first", str(first), "--count", str(count)]
            argv += ["--out", str(outs[k]), "--ready", str(readies[k])]
            argv += ["--deadline", f"{lifetime:g}"]
            argv += ["--event", sc.event]
            clients.append(procs.start(f"{tag}-client{k}", argv, dict(os.environ)))
        t_connect = time.monotonic()
        alive = [api, worker, *clients]
        await until(lambda: all(p.exists() for p in readies), opening, "streams to open", alive)
        out["connect_s"] = time.monotonic() - t_connect
        out["connected"] = sum(json.loads(p.read_text())["connected"] for p in readies)
        go.touch()
        await asyncio.sleep(self.args.settle)

        # The measuring window.
        pids = {"api": api.pid, "worker": worker.pid}
        pids |= {f"client{k}": p.pid for k, p in enumerate(clients)}
        c0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        threads0 = thread_cpu_seconds(api.pid)
        wait0 = runqueue_wait_seconds(api.pid)
        pg0 = postgres_cpu_seconds() if backend == "postgresql" else {}
        sessions0 = await pg_sessions(app.settings.store_url) if backend == "postgresql" else 0
        w0, m0 = time.time(), time.monotonic()
        rss_peak = rss_mib(api.pid)
        while time.monotonic() - m0 < self.args.window:
            await asyncio.sleep(min(0.5, self.args.window - (time.monotonic() - m0)))
            rss_peak = max(rss_peak, rss_mib(api.pid))
        span = time.monotonic() - m0
        w1 = time.time()
        cpu = {n: 100 * (cpu_seconds(pid) - c0[n]) / span for n, pid in pids.items()}
        threads1 = thread_cpu_seconds(api.pid)
        out["api_runqueue_wait_pct"] = 100 * (runqueue_wait_seconds(api.pid) - wait0) / span
        if backend == "postgresql":
            out["postgres_cpu_pct"] = 100 * cpu_delta(pg0, postgres_cpu_seconds()) / span
            # Each pg_sessions() call is a session itself: subtract the second one.
            out["pg_sessions_opened"] = await pg_sessions(app.settings.store_url) - sessions0 - 1
        out["load_average"] = load_average()
        out["api_threads_cpu_pct"] = {
            name: 100 * (t - threads0.get(name, 0.0)) / span
            for name, t in sorted(threads1.items(), key=lambda kv: -kv[1])
            if t - threads0.get(name, 0.0) > 0
        }
        out["rss_load_mib"] = rss_mib(api.pid)
        out["rss_peak_mib"] = rss_peak
        out["api_cpu_pct"] = cpu.pop("api")
        out["worker_cpu_pct"] = cpu.pop("worker")
        out["client_cpu_pct"] = list(cpu.values())
        out["window_s"] = span

        # Stop the jobs: each completes, and its terminal event closes its streams.
        stop.touch()
        await until(lambda: all(p.poll() is not None for p in clients), 60, "streams to end", [])
        streams: list[dict[str, Any]] = []
        delays: list[float] = []
        for path in outs:
            data = json.loads(path.read_text())
            streams += data["streams"]
            pairs = zip(data["arrival"], data["delay"], strict=True)
            delays += [d for a, d in pairs if w0 <= a < w1]
        out["load"] = latency_summary(delays)
        out["events_per_s"] = len(delays) / (w1 - w0)
        out["audit"] = audit(streams)
        if sc.event == "partial":
            out["partial_audit"] = await partial_audit(app, ids, streams)
        return out


async def partial_audit(app: LRO, ids: list[str], streams: list[dict[str, Any]]) -> dict[str, Any]:
    """Each stream against what its job made (the handler's result): seqs it never saw
    (skipped, or after its last one), seqs seen twice or out of order, streams incomplete."""
    made: dict[str, int] = {}
    for job_id in ids:
        job = await app.store.get_job(job_id)
        result = job.result if job is not None else None
        made[job_id] = int(result["partials"]) if isinstance(result, dict) else -1
    missing = incomplete = 0
    for s in streams:
        tail = max(0, made[s["job_id"]] - s["last_seq"])
        missing += s["seq_missing"] + tail
        incomplete += 1 if s["seq_missing"] or tail else 0
    return {
        "made": sum(made.values()),
        "received": sum(s["partials"] for s in streams),
        "missing": missing,
        "repeated": sum(s["seq_repeated"] for s in streams),
        "incomplete_streams": incomplete,
    }


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    n = args.streams
    wanted = args.scenarios.split(",")
    out = []
    if "jobs100" in wanted or "floor" in wanted:
        floor = args.floor_seconds if "floor" in wanted else 0.0
        streams = n if "jobs100" in wanted else 0
        out.append(Scenario("jobs100", f"{n:,} streams on 100 jobs", 100, streams, DEFAULT_FLUSH))
        out[-1].floor_seconds = floor
    if "jobs1000" in wanted:
        out.append(Scenario("jobs1000", f"{n:,} streams on 1,000 jobs", 1000, n, DEFAULT_FLUSH))
    if "flush0" in wanted:
        sc = Scenario("flush0", f"{n:,} streams on 100 jobs", 100, n, 0.0, args.floor_seconds)
        out.append(sc)
    if "streams5000" in wanted:
        k, jobs, every = args.big_streams, args.big_jobs, args.big_interval
        label = f"{k:,} streams on {jobs:,} jobs (steps every {every:g} s)"
        out.append(Scenario("streams5000", label, jobs, k, DEFAULT_FLUSH, interval=every))
    if "partials" in wanted:
        k, rate = args.partial_streams, args.partial_rate
        label = f"{k:,} streams on 1 job making {rate:g} partials/s"
        out.append(Scenario("partials", label, 1, k, DEFAULT_FLUSH, event="partial"))
    return out


# -- output ----------------------------------------------------------------------------------
def rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """One row per floor and per load; the same columns as the docs' table."""

    def f(x: float | None, spec: str = ".0f") -> str:
        return "-" if x is None or x != x else format(x, spec)

    def lat(s: dict[str, Any] | None) -> str:
        if not s or not s.get("samples"):
            return "-"
        return f"{s['p50_ms']:.0f} / {s['p95_ms']:.0f} / {s['p99_ms']:.0f} (n={s['samples']:,})"

    def checks(a: dict[str, Any] | None) -> str:
        if not a:
            return "-"
        text = f"{a['gaps']} / {a['disorder']} / {a['no_terminal']}"
        return text + (f"  ({a['errors']} errors: {a['first_error']})" if a["errors"] else "")

    def seqs(a: dict[str, Any] | None) -> str:
        if not a:
            return ""
        return (
            f"; partials {a['made']:,} made, seq missing / repeated {a['missing']} /"
            f" {a['repeated']}, {a['incomplete_streams']} streams incomplete"
        )

    table = []
    for r in results:
        backend = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[r["backend"]]
        flush = f"{r['flush_s']:g}"
        if "floor" in r:
            table.append(
                [
                    backend,
                    f"idle: 1 stream on 1 job (step every {r['floor_interval_s']:g} s)",
                    flush,
                    f(r.get("rss_idle_mib"), ".1f"),
                    f(r.get("api_idle_cpu_pct"), ".1f"),
                    "-",
                    "-",
                    "-",
                    "-",
                    lat(r["floor"]),
                    checks(r.get("floor_audit")),
                ]
            )
        if "load" in r:
            idle, load = r["rss_idle_mib"], r["rss_load_mib"]
            table.append(
                [
                    backend,
                    r["label"],
                    flush,
                    f"{idle:.1f} -> {load:.1f} (+{load - idle:.1f})",
                    f(r["api_cpu_pct"]),
                    f(r["api_runqueue_wait_pct"]),
                    " / ".join(
                        [
                            f(r["worker_cpu_pct"]),
                            " + ".join(f(c) for c in r["client_cpu_pct"]),
                            f(r.get("postgres_cpu_pct")),
                        ]
                    ),
                    f(r["load_average"], ".1f"),
                    f"{r['events_per_s']:,.0f} of {r['events_expected_per_s']:,.0f}",
                    lat(r["load"]),
                    checks(r.get("audit")) + seqs(r.get("partial_audit")),
                ]
            )
        if "note" in r:
            table.append([backend, r["label"], flush] + ["-"] * 7 + [r["note"]])
    return table


HEADER = [
    "backend",
    "streams",
    "flush s",
    "API RSS MiB",
    "API CPU %",
    "API CPU wait %",
    "worker / clients / postgres CPU %",
    "loadavg",
    "events/s",
    "delay p50 / p95 / p99 ms",
    "gaps / disorder / no terminal",
]


def notes(results: list[dict[str, Any]]) -> list[str]:
    """What the API and worker processes logged as warnings or errors, per row, and the
    PostgreSQL sessions opened during a window (a healthy pool opens none)."""
    out = []
    for r in results:
        row = f"{r['backend']}, {r['label']}, flush {r['flush_s']:g} s"
        warmup = r.get("warmup_audit")
        if warmup and (warmup["no_terminal"] or warmup["errors"] or warmup["gaps"]):
            out.append(f"{row}: the warm-up stream: {warmup}")
        if r.get("pg_sessions_opened"):
            sessions = r["pg_sessions_opened"]
            out.append(f"{row}: {sessions} PostgreSQL sessions opened during the window")
        for role in ("api", "worker"):
            for message, count in list(r.get(f"{role}_log", {}).items())[:3]:
                out.append(f"{row}: {role} logged {count}x: {message}")
    return out


def render(table: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [HEADER, *table]) for i in range(len(HEADER))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    return "\n".join(line.rstrip() for line in lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


# -- main --------------------------------------------------------------------------------------
async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    workdir = Path(tempfile.mkdtemp(prefix="lro-bench-sse-"))
    bench = Bench(args, workdir)
    results: list[dict[str, Any]] = []

    async def run_all(backend: str, make_url: Callable[[str], str]) -> None:
        for sc in scenarios(args):
            print(f"{backend}: {sc.name} ...", file=sys.stderr, flush=True)
            t = time.monotonic()
            res = await bench.run(sc, backend, make_url(sc.name))
            print(
                f"  {time.monotonic() - t:.0f} s {res.get('note', '')}", file=sys.stderr, flush=True
            )
            results.append(res)

    try:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                await run_all(backend, lambda name: f"sqlite:///{workdir / name}.db")
            elif backend == "postgresql":
                async with postgres_database(args.pg, "lro_bench_sse") as url:
                    await run_all(backend, lambda name: url)
            else:
                raise SystemExit(f"unknown backend {backend!r}")
    finally:
        if args.keep:
            print(f"logs and databases kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0, help="measuring window, seconds")
    parser.add_argument("--settle", type=float, default=2.0, help="pause before the window")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between steps")
    parser.add_argument("--floor-seconds", type=float, default=8.0)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--scenarios", default="floor,jobs100,jobs1000,flush0")
    parser.add_argument("--big-streams", type=int, default=5000, help="streams5000's streams")
    parser.add_argument("--big-jobs", type=int, default=500, help="streams5000's jobs")
    parser.add_argument(
        "--big-interval", type=float, default=5.0, help="streams5000's seconds between steps"
    )
    parser.add_argument("--partial-streams", type=int, default=100)
    parser.add_argument("--partial-rate", type=float, default=100.0, help="partials/s")
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL without a database (env BENCH_PG)",
    )
    parser.add_argument(
        "--profile", metavar="DIR", type=Path, help="run the API under cProfile, stats into DIR"
    )
    parser.add_argument("--json", metavar="FILE", help="also append the results as a JSON line")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.profile:
        args.profile = args.profile.resolve()
        args.profile.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    try:
        results = asyncio.run(main_async(args))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("interrupted: every process stopped, the database dropped", file=sys.stderr)
        sys.exit(130)
    print(
        f"lro SSE benchmark, {started.isoformat(timespec='seconds')}, {machine()}, "
        f"window {args.window:g} s, steps every {args.interval:g} s"
    )
    print(render(rows(results)))
    for line in notes(results):
        print(line)
    if args.json:
        with open(args.json, "a") as fh:
            record = {"date": started.isoformat(), "machine": machine(), "results": results}
            fh.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
