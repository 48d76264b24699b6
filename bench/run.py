"""`make bench`: measure lro on this machine and print one table. Not a test: no asserts.

    .venv/bin/python bench/run.py [--jobs 10000] [--concurrency 20] [--samples 200]
                                  [--seconds 5] [--only throughput,latency,http] [--json FILE]

Figures (bench/README.md explains each):
  throughput  N no-op jobs enqueued with `submit_many`, then drained by ONE `lro worker`
              process at the given concurrency; jobs/s between the first and the last
              handler start (the peer harness's definition), and including the wait for the
              last completion to be committed.
  latency     submit -> handler start, one job at a time to an idle worker: a separate
              `lro worker` process (it learns of new jobs by polling SQLite), and a worker
              embedded in the submitting process (woken in memory).
  http        polls/s, conditional (304) polls/s and submits/s against one
              `lro serve --no-worker` process, beside a bare FastAPI route served with the
              same uvicorn settings (bench/bare_app.py) in the same minutes, with the access
              log on and off on both; ratios to the bare route. Driven by `wrk` when it is
              installed, else by concurrent httpx clients.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import bench_app  # noqa: E402
from lro import LRO, Status, SubmitRequest  # noqa: E402
from lro.models import ListQuery  # noqa: E402

LRO_BIN = shutil.which("lro", path=str(Path(sys.executable).parent)) or "lro"


# -- helpers -------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Env:
    workdir: Path

    def store_url(self, name: str) -> str:
        return f"sqlite:///{self.workdir / name}"

    def env(self, store_url: str, hits: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LRO_")}
        env["LRO_STORE_URL"] = store_url
        env["LRO_RESULT_DIR"] = str(self.workdir / "results")
        if hits is not None:
            env["LRO_BENCH_HITS"] = str(hits)
        return env


@contextlib.contextmanager
def lro_process(
    args: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `lro ...` from the bench directory (so `bench_app:lro` imports); always stop it."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [LRO_BIN, *args], cwd=BENCH_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def read_hits(path: Path) -> list[tuple[float, float, int]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    hits = []
    for line in text.splitlines():
        started, t0, i = line.split()
        hits.append((float(started), float(t0), int(i)))
    return hits


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 16), b""))
    except FileNotFoundError:
        return 0


async def wait_lines(path: Path, target: int, timeout: float, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + timeout
    n = count_lines(path)
    while n < target and time.monotonic() < deadline and proc.poll() is None:
        await asyncio.sleep(0.002 if target - n < 5 else 0.05)
        n = count_lines(path)
    return n


async def active_jobs(app: LRO) -> int:
    page = await app.store.list_jobs(
        ListQuery(statuses=[Status.QUEUED, Status.PROCESSING], limit=1),
        datetime.now(UTC),
    )
    return len(page.items)


# -- (i) throughput -------------------------------------------------------------------------
async def bench_throughput(env: Env, jobs: int, concurrency: int, batch: int) -> dict[str, Any]:
    url = env.store_url("throughput.db")
    hits = env.workdir / "throughput.hits"
    producer = bench_app.make_app(url)
    async with producer.running():
        t = time.perf_counter()
        for start in range(0, jobs, batch):
            size = min(batch, jobs - start)
            await producer.submit_many(
                [SubmitRequest(bench_app.OPERATION, {"i": -1}) for _ in range(size)]
            )
        enqueue_s = time.perf_counter() - t

        t_boot = time.time()
        args = ["worker", "bench_app:lro", "--concurrency", str(concurrency)]
        args += ["--log-level", "warning"]
        with lro_process(args, env.env(url, hits), env.workdir / "throughput-worker.log") as w:
            done = await wait_lines(hits, jobs, timeout=900, proc=w)
            deadline = time.monotonic() + 120
            # Handler starts are recorded; now wait for the last completion to commit.
            while time.monotonic() < deadline:
                if not await active_jobs(producer):
                    break
                await asyncio.sleep(0.05)
            t_all_completed = time.time()
    starts = sorted(h[0] for h in read_hits(hits))
    span = starts[-1] - starts[0] if len(starts) > 1 else float("nan")
    return {
        "jobs": jobs,
        "done": done,
        "concurrency": concurrency,
        "enqueue_per_s": jobs / enqueue_s,
        "enqueue_batch": batch,
        "drain_per_s": done / span,
        "wall_per_s_incl_boot_and_commit": done / (t_all_completed - t_boot),
        "boot_to_first_s": starts[0] - t_boot if starts else float("nan"),
    }


# -- (ii) pickup latency --------------------------------------------------------------------
async def latency_separate(env: Env, samples: int, concurrency: int) -> dict[str, Any]:
    url = env.store_url("latency.db")
    hits = env.workdir / "latency.hits"
    producer = bench_app.make_app(url)
    async with producer.running():
        args = ["worker", "bench_app:lro", "--concurrency", str(concurrency)]
        args += ["--log-level", "warning"]
        with lro_process(args, env.env(url, hits), env.workdir / "latency-worker.log") as w:
            # Warm-up: wait until the worker runs jobs at all, then let it go idle.
            await producer.submit(bench_app.OPERATION, {"t0": time.time(), "i": -1})
            if await wait_lines(hits, 1, timeout=60, proc=w) < 1:
                return {"note": "worker did not start"}
            await asyncio.sleep(1.0)
            for i in range(samples):
                await producer.submit(bench_app.OPERATION, {"t0": time.time(), "i": i})
                if await wait_lines(hits, i + 2, timeout=10, proc=w) < i + 2:
                    return {"note": f"sample {i} not picked up within 10 s"}
                await asyncio.sleep(random.uniform(0, 0.02))
    lat_ms = [(started - t0) * 1e3 for started, t0, i in read_hits(hits) if i >= 0]
    return summarize(lat_ms)


async def latency_embedded(env: Env, samples: int, concurrency: int) -> dict[str, Any]:
    url = env.store_url("latency-embedded.db")
    app = bench_app.make_app(url)
    lat_ms: list[float] = []
    picked = asyncio.Event()

    def sink(started: float, t0: float, i: int) -> None:
        if i >= 0:
            lat_ms.append((started - t0) * 1e3)
        picked.set()

    bench_app.set_sink(sink)
    try:
        async with app.running():
            worker = app.worker(concurrency)
            await worker.start()
            try:
                await app.submit(bench_app.OPERATION, {"t0": time.time(), "i": -1})
                await asyncio.wait_for(picked.wait(), 30)
                await asyncio.sleep(1.0)
                for i in range(samples):
                    picked.clear()
                    await app.submit(bench_app.OPERATION, {"t0": time.time(), "i": i})
                    await asyncio.wait_for(picked.wait(), 10)
                    await asyncio.sleep(random.uniform(0, 0.02))
            finally:
                await worker.stop(5)
    finally:
        bench_app.set_sink(None)
    return summarize(lat_ms)


def summarize(lat_ms: list[float]) -> dict[str, Any]:
    if not lat_ms:
        return {"note": "no samples"}
    return {
        "samples": len(lat_ms),
        "p50_ms": pct(lat_ms, 50),
        "p95_ms": pct(lat_ms, 95),
        "p99_ms": pct(lat_ms, 99),
        "max_ms": max(lat_ms),
        "mean_ms": statistics.fmean(lat_ms),
    }


# -- (iii) HTTP -----------------------------------------------------------------------------
WRK_POST = """wrk.method = "POST"
wrk.body = '{"i": -1}'
wrk.headers["Content-Type"] = "application/json"
"""

WRK_GET = """paths = {%s}
etags = {%s}
n = 0
request = function()
  n = n + 1
  local k = (n %% #paths) + 1
  if #etags > 0 then
    return wrk.format("GET", paths[k], {["If-None-Match"] = etags[k]})
  end
  return wrk.format("GET", paths[k])
end
"""

CONNECTIONS = 16
"""Concurrent connections of every HTTP figure (wrk -c, or httpx clients)."""


def lua_list(items: list[str]) -> str:
    return ", ".join(json.dumps(i) for i in items)


@dataclass(frozen=True)
class Load:
    """One HTTP figure: what to request, against which server."""

    base: str
    method: str
    paths: list[str]
    etags: list[str]
    pid: int
    """The serving process, whose CPU time the figure also reports."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(load: Load, seconds: float, workdir: Path) -> tuple[float, int, int]:
    """Requests/s, the count of answers that were neither 2xx nor 3xx, and of all."""
    script = (
        WRK_POST
        if load.method == "POST"
        else WRK_GET % (lua_list(load.paths), lua_list(load.etags))
    )
    path = workdir / f"wrk-{abs(hash(script))}.lua"
    path.write_text(script)
    url = load.base + (load.paths[0] if load.method == "POST" else "/")
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "-s", str(path)]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=False).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return (
        float(match.group(1)) if match else float("nan"),
        int(non2xx.group(1) if non2xx else 0),
        int(total.group(1)) if total else 0,
    )


async def run_httpx(load: Load, seconds: float) -> tuple[float, int, int]:
    """Closed loop: CONNECTIONS tasks, each sending its next request when the last returns."""
    count = bad = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)

    async with httpx.AsyncClient(base_url=load.base, limits=limits, timeout=30) as client:

        async def one(k: int) -> None:
            nonlocal count, bad
            n = k
            while time.monotonic() < deadline:
                i = n % len(load.paths)
                n += 1
                if load.method == "POST":
                    resp = await client.post(load.paths[i], json={"i": -1})
                else:
                    headers = {"If-None-Match": load.etags[i]} if load.etags else {}
                    resp = await client.get(load.paths[i], headers=headers)
                count += 1
                bad += resp.status_code >= 400

        t = time.monotonic()
        await asyncio.gather(*(one(k) for k in range(CONNECTIONS)))
        return count / (time.monotonic() - t), bad, count


async def wait_healthy(base: str, path: str, proc: subprocess.Popen[bytes]) -> bool:
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(path)).status_code == 200:
                    return True
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)


def server_args(access_log: bool) -> list[str]:
    """The flags both servers get: access log on (at info, as `lro serve` runs by default,
    so every request writes its line) or off (and only warnings logged)."""
    return (
        ["--access-log", "--log-level", "info"]
        if access_log
        else [
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    )


@contextlib.contextmanager
def bare_process(
    port: int, access_log: bool, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    argv = [sys.executable, str(BENCH_DIR / "bare_app.py"), str(port), *server_args(access_log)]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, cwd=BENCH_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def bench_http_pair(
    env: Env, seconds: float, use_wrk: bool, access_log: bool
) -> dict[str, Any]:
    """The bare route and lro side by side, both servers up at once, figures interleaved:
    bare, poll, 304 poll, submit, bare again (the ceiling is the mean of its two runs)."""
    tag = "on" if access_log else "off"
    url = env.store_url(f"http-{tag}.db")
    lro_port, bare_port = free_port(), free_port()
    lro_base, bare_base = f"http://127.0.0.1:{lro_port}", f"http://127.0.0.1:{bare_port}"
    args = ["serve", "bench_app:lro", "--no-worker", "--port", str(lro_port)]
    args += server_args(access_log)
    envs = env.env(url)
    with (
        lro_process(args, envs, env.workdir / f"http-lro-{tag}.log") as server,
        bare_process(bare_port, access_log, envs, env.workdir / f"http-bare-{tag}.log") as bare,
    ):
        if not await wait_healthy(lro_base, "/healthz", server):
            return {"note": "lro serve did not start; see its log (--keep)"}
        if not await wait_healthy(bare_base, "/jobs/x", bare):
            return {"note": "the bare app did not start; see its log (--keep)"}
        paths, etags = [], []
        async with httpx.AsyncClient(base_url=lro_base, timeout=5) as client:
            for _ in range(100):
                job_id = (await client.post("/api/v1/noop", json={"i": -1})).json()["job_id"]
                paths.append(f"/api/v1/jobs/{job_id}")
            for path in paths:
                etags.append((await client.get(path)).headers["etag"])
        loads = {
            "bare": Load(bare_base, "GET", [f"/jobs/{i}" for i in range(100)], [], bare.pid),
            "poll": Load(lro_base, "GET", paths, [], server.pid),
            "poll_304": Load(lro_base, "GET", paths, etags, server.pid),
            "submit": Load(lro_base, "POST", ["/api/v1/noop"], [], server.pid),
        }
        figures: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        bad: dict[str, int] = {}
        for name in ("bare", "poll", "poll_304", "submit", "bare"):
            load = loads[name]
            cpu_before = cpu_seconds(load.pid)
            if use_wrk:
                rate, errors, count = run_wrk(load, seconds, env.workdir)
            else:
                rate, errors, count = await run_httpx(load, seconds)
            used = cpu_seconds(load.pid) - cpu_before
            figures.setdefault(name, []).append(rate)
            cpu.setdefault(name, []).append(used / count * 1e6 if count else float("nan"))
            bad[name] = bad.get(name, 0) + errors
    out: dict[str, Any] = {name: statistics.fmean(v) for name, v in figures.items()}
    out["cpu_us"] = {name: statistics.fmean(v) for name, v in cpu.items()}
    out["bare_runs"] = figures["bare"]
    out["errors"] = {k: v for k, v in bad.items() if v}
    return out


async def bench_http(env: Env, seconds: float, use_wrk: bool) -> dict[str, Any]:
    results: dict[str, Any] = {
        "driver": f"wrk -t2 -c{CONNECTIONS}"
        if use_wrk
        else f"httpx x{CONNECTIONS} (client-bound on small machines)",
        "load_average": os.getloadavg(),
    }
    for access_log in (True, False):
        key = "access_log_on" if access_log else "access_log_off"
        results[key] = await bench_http_pair(env, seconds, use_wrk, access_log)
    results["load_average_after"] = os.getloadavg()
    return results


# -- main -------------------------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


def http_rows(http: dict[str, Any]) -> list[tuple[str, str]]:
    """Per access-log setting: the bare ceiling, then each lro figure and its ratio to it."""
    rows: list[tuple[str, str]] = []
    labels = {
        "poll": "polls/s (GET job, 200)",
        "poll_304": "conditional polls/s (If-None-Match, 304)",
        "submit": "submits/s (POST /noop, 202)",
    }
    for key, setting in (("access_log_on", "access log on"), ("access_log_off", "access log off")):
        pair = http.get(key)
        if not pair:
            continue
        if "bare" not in pair:
            rows.append((f"HTTP, {setting}", pair.get("note", "?")))
            continue
        bare = pair["bare"]
        runs = " / ".join(f"{r:,.0f}" for r in pair["bare_runs"])
        rows.append(
            (
                f"HTTP {setting}: bare FastAPI route/s ({http['driver']}; runs {runs})",
                f"{bare:,.0f}",
            )
        )
        cpu = pair.get("cpu_us", {})
        if "bare" in cpu:
            rows.append(("  bare route: server CPU per request (us)", f"{cpu['bare']:,.0f}"))
        for name, label in labels.items():
            rate = pair[name]
            rows.append((f"  lro serve --no-worker {label}", f"{rate:,.0f}  ({rate / bare:.2f}x)"))
            if name in cpu and "bare" in cpu:
                rows.append(
                    (
                        "    server CPU per request (us; bare/lro)",
                        f"{cpu[name]:,.0f}  ({cpu['bare'] / cpu[name]:.2f}x)",
                    )
                )
        if pair.get("errors"):
            rows.append(("  answers neither 2xx nor 3xx", str(pair["errors"])))
    if "load_average" in http:
        before, after = http["load_average"][0], http["load_average_after"][0]
        rows.append(("HTTP: load average (1 min) before / after", f"{before:.1f} / {after:.1f}"))
    return rows


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str]] = []
    th = results.get("throughput")
    if th:
        rows.append(
            (
                f"enqueue, submit_many batches of {th['enqueue_batch']} (jobs/s)",
                f"{th['enqueue_per_s']:,.0f}",
            )
        )
        rows.append(
            (
                f"drain {th['done']:,} no-op jobs, 1 worker process x{th['concurrency']} "
                "(jobs/s, first->last handler start)",
                f"{th['drain_per_s']:,.0f}",
            )
        )
        rows.append(
            (
                "  same, incl. worker boot and last commit (jobs/s)",
                f"{th['wall_per_s_incl_boot_and_commit']:,.0f}",
            )
        )
    for key, label in (
        ("latency_separate", "separate worker process"),
        ("latency_embedded", "worker embedded in-process"),
    ):
        lat = results.get(key)
        if lat and "p50_ms" in lat:
            rows.append(
                (
                    f"submit -> handler start, {label} (p50 / p95 ms, n={lat['samples']})",
                    f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f}",
                )
            )
        elif lat:
            rows.append((f"submit -> handler start, {label}", lat.get("note", "?")))
    http = results.get("http")
    if http:
        rows.extend(http_rows(http))
    width = max(len(r[0]) for r in rows) if rows else 10
    lines = [f"{'figure':<{width}}  value", f"{'-' * width}  -----------"]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    only = set(args.only.split(","))
    workdir = Path(tempfile.mkdtemp(prefix="lro-bench-"))
    env = Env(workdir)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "store": "SQLite (WAL) file in " + str(workdir),
    }
    try:
        if "throughput" in only:
            print(f"throughput: {args.jobs} jobs ...", file=sys.stderr, flush=True)
            results["throughput"] = await bench_throughput(
                env, args.jobs, args.concurrency, args.batch
            )
        if "latency" in only:
            print(f"latency: {args.samples} samples x2 ...", file=sys.stderr, flush=True)
            results["latency_separate"] = await latency_separate(
                env, args.samples, args.concurrency
            )
            results["latency_embedded"] = await latency_embedded(
                env, args.samples, args.concurrency
            )
        if "http" in only:
            use_wrk = shutil.which("wrk") is not None and not args.no_wrk
            print(f"http: {args.seconds:g}s per figure ...", file=sys.stderr, flush=True)
            results["http"] = await bench_http(env, args.seconds, use_wrk)
    finally:
        if args.keep:
            print(f"logs and databases kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each HTTP figure")
    parser.add_argument("--only", default="throughput,latency,http")
    parser.add_argument(
        "--no-wrk", action="store_true", help="drive HTTP with httpx even if wrk exists"
    )
    parser.add_argument("--json", metavar="FILE", help="also append the results as a JSON line")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(f"lro benchmarks, {results['date']}, {results['machine']}")
    print(table(results))
    if args.json:
        with open(args.json, "a") as fh:
            fh.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
