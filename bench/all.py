"""`make bench-all`: every benchmark of the project in one run, then one summary table.

    .venv/bin/python bench/all.py [--quick] [--only bench,pg,sse,redis,regress] [--out DIR]

Runs, one after the other (never two at once: each would be the other's noise):

  bench    `bench/run.py`          SQLite drain and pickup, HTTP beside the bare FastAPI route
  pg       `bench/peers.sh`        lro on PostgreSQL beside pgqueuer and procrastinate
  sse      `bench/sse.py`          one API process holding many event streams
  redis    `bench/redis.sh`        lro on Redis (BullMQ) beside plain Python bullmq
  regress  `bench/regress.sh`      drain of lro now against the v1 base (unused features)

Each writes its raw figures as JSON lines into the run's folder (bench/results/all-<time>/,
kept); each prints its own table as it goes. At the end this prints one table: the
figure, lro's value, the reference it is measured against in the same run (a peer, the
bare route, the base), the ratio, and the issue's goal with whether this run met it.
`--quick` runs smaller versions (fewer jobs, shorter windows) to check the whole chain.
A benchmark that fails or times out leaves its rows empty (a dash); the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = str(ROOT / ".venv" / "bin" / "python")
TIMEOUT_S = 45 * 60
DASH, TIMES = "\u2013", "\u00d7"


@dataclass(frozen=True)
class Step:
    name: str
    argv: Callable[[Path, bool], list[str]]
    env: Callable[[Path], dict[str, str]]
    out: str


STEPS = (
    Step(
        "bench",
        lambda d, q: (
            [PY, str(BENCH / "run.py"), "--json", str(d / "bench.jsonl")]
            + (["--jobs", "3000", "--samples", "100", "--seconds", "3"] if q else [])
        ),
        lambda d: {},
        "bench.jsonl",
    ),
    Step(
        "pg",
        lambda d, q: ["bash", str(BENCH / "peers.sh"), *(["3000", "20", "100"] if q else [])],
        lambda d: {
            "BENCH_OUT": str(d / "pg.jsonl"),
            "ROUNDS": os.environ.get("ROUNDS", "1"),
            # procrastinate has no row in the summary (no goal against it), and its drain
            # takes minutes; `LIBS="lro pgqueuer procrastinate"` brings it back.
            "LIBS": os.environ.get("LIBS", "lro pgqueuer"),
        },
        "pg.jsonl",
    ),
    Step(
        "sse",
        lambda d, q: (
            [PY, str(BENCH / "sse.py"), "--json", str(d / "sse.jsonl")]
            + (["--window", "4"] if q else [])
        ),
        lambda d: {},
        "sse.jsonl",
    ),
    Step(
        "redis",
        lambda d, q: ["bash", str(BENCH / "redis.sh"), *(["2000", "20", "100"] if q else [])],
        lambda d: {"BENCH_OUT": str(d / "redis.jsonl"), "ROUNDS": os.environ.get("ROUNDS", "1")},
        "redis.jsonl",
    ),
    Step(
        "regress",
        lambda d, q: ["bash", str(BENCH / "regress.sh"), *(["3000", "20", "1"] if q else [])],
        lambda d: {"BENCH_OUT": str(d / "regress.jsonl")},
        "regress.jsonl",
    ),
)


def run_step(step: Step, folder: Path, quick: bool) -> tuple[float, int]:
    """Run one benchmark with its output passing through; (seconds, exit status)."""
    env = {**os.environ, **step.env(folder)}
    print(f"\n##### {step.name}: {' '.join(step.argv(folder, quick))}", flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(step.argv(folder, quick), cwd=ROOT, env=env, timeout=TIMEOUT_S)
        status = done.returncode
    except subprocess.TimeoutExpired:
        status = -1
    return time.monotonic() - started, status


# -- reading the figures back ---------------------------------------------------------------
def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open() as fh:
        return [json.loads(t) for t in fh if t.strip()]


def dig(d: Any, *path: str) -> float | None:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return float(d) if isinstance(d, int | float) else None


def values(found: Iterable[float | None]) -> list[float]:
    return [v for v in found if v is not None and v == v]


Check = Callable[[list[float], list[float]], bool]
"""Whether a row meets its goal, from lro's values and the ratios (each over the run)."""


@dataclass
class Row:
    figure: str
    lro: list[float]
    reference: list[float]
    ref_name: str
    ratios: list[float]
    goal: str
    met: Check | None
    unit: str = "/s"
    ratio_kind: str = "times"
    """"times": lro over reference as a ratio; "over": lro minus reference (in `unit`); "none"."""


def ratio_rows(
    figure: str,
    ours: list[float],
    theirs: list[float],
    ref_name: str,
    goal: str,
    met: Check | None,
    unit: str = "/s",
) -> Row:
    """Ratios pair round k of lro with round k of the reference (the same minutes)."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=False) if b]
    return Row(figure, ours, theirs, ref_name, ratios, goal, met, unit)


def _peer_runs(path: Path, lib: str) -> list[dict[str, Any]]:
    return [x for x in lines(path) if x.get("lib") == lib]


def peer_rows(path: Path, ours: str, peer: str, backend: str, drain2: bool) -> list[Row]:
    mine, theirs = _peer_runs(path, ours), _peer_runs(path, peer)

    def col(runs: list[dict[str, Any]], *keys: str) -> list[float]:
        return values(dig(r, *keys) for r in runs)

    rows = [
        ratio_rows(
            f"{backend}: submits one by one",
            col(mine, "A_single", "enqueue_single_per_s"),
            col(theirs, "A_single", "enqueue_single_per_s"),
            peer,
            "≥ 1.0" + TIMES if backend == "PostgreSQL" else "",
            (lambda _v, r: min(r) >= 1.0) if backend == "PostgreSQL" else None,
        ),
        ratio_rows(
            f"{backend}: batch submits",
            col(mine, "B_batch_1p", "enqueue_batch_per_s"),
            col(theirs, "B_batch_1p", "enqueue_batch_per_s"),
            peer,
            "≥ 1.0" + TIMES if backend == "PostgreSQL" else "",
            (lambda _v, r: min(r) >= 1.0) if backend == "PostgreSQL" else None,
        ),
        ratio_rows(
            f"{backend}: drain, 1 worker process",
            col(mine, "B_batch_1p", "drain", "throughput_per_s"),
            col(theirs, "B_batch_1p", "drain", "throughput_per_s"),
            peer,
            "≥ 1.0" + TIMES if backend == "Redis" else "",
            (lambda _v, r: min(r) >= 1.0) if backend == "Redis" else None,
        ),
    ]
    if drain2:
        rows.append(
            ratio_rows(
                f"{backend}: drain, 2 worker processes",
                col(mine, "B_batch_2p", "drain", "throughput_per_s"),
                col(theirs, "B_batch_2p", "drain", "throughput_per_s"),
                peer,
                "≥ 1.0" + TIMES,
                lambda _v, r: min(r) >= 1.0,
            )
        )
    ours_p50 = col(mine, "C_latency", "pickup_p50_ms")
    theirs_p50 = col(theirs, "C_latency", "pickup_p50_ms")
    if backend == "Redis":
        extra = [a - b for a, b in zip(ours_p50, theirs_p50, strict=False)]
        row = Row(
            f"{backend}: pickup p50",
            ours_p50,
            theirs_p50,
            peer,
            extra,
            "≤ +1 ms",
            lambda _v, r: max(r) <= 1.0,
            "ms",
            "over",
        )
    else:
        row = ratio_rows(
            f"{backend}: pickup p50",
            ours_p50,
            theirs_p50,
            peer,
            "≤ 0.75" + TIMES,
            lambda _v, r: max(r) <= 0.75,
            "ms",
        )
    rows.append(row)
    return rows


def bench_rows(path: Path) -> list[Row]:
    runs = lines(path)
    rows = [
        Row(
            "SQLite: drain, 1 worker process",
            values(dig(r, "throughput", "drain_per_s") for r in runs),
            [],
            "",
            [],
            "",
            None,
            ratio_kind="none",
        ),
        Row(
            "SQLite: pickup p50, worker in another process",
            values(dig(r, "latency_separate", "p50_ms") for r in runs),
            values(dig(r, "latency_embedded", "p50_ms") for r in runs),
            "embedded worker",
            [],
            "≤ 3 ms",
            lambda v, _r: max(v) <= 3.0,
            "ms",
            "none",
        ),
    ]
    for log in ("on", "off"):
        key = f"access_log_{log}"
        bare = values(dig(r, "http", key, "bare") for r in runs)
        for name, label, goal, bound in (
            ("poll", "polls", "≥ 0.8" + TIMES, 0.8),
            ("poll_304", "polls answered 304", "", None),
            ("submit", "submits", "≥ 0.5" + TIMES, 0.5),
        ):
            rows.append(
                ratio_rows(
                    f"HTTP {label}, access log {log}",
                    values(dig(r, "http", key, name) for r in runs),
                    bare,
                    "bare FastAPI GET",
                    goal,
                    None if bound is None else (lambda _v, r, b=bound: min(r) >= b),
                )
            )
    return rows


def sse_rows(path: Path) -> list[Row]:
    rows: list[Row] = []
    for record in lines(path):
        for r in record.get("results", []):
            if not isinstance(r, dict) or not r.get("streams"):
                continue  # a floor-only scenario: one stream, no load
            streams, jobs = r.get("streams"), r.get("jobs")
            names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
            backend = names.get(r.get("backend", ""), "?")
            p99 = dig(r, "load", "p99_ms")
            flush = dig(r, "flush_s")
            bound = 2 * (0.25 if flush is None else flush) * 1000 + 100
            if p99 is not None:
                rows.append(
                    Row(
                        f"SSE {backend}: delay p99, {streams} streams on {jobs} jobs"
                        + ("" if flush is None else f", flush {flush:g} s"),
                        [p99],
                        [],
                        "",
                        [],
                        f"≤ {bound:.0f} ms",
                        lambda v, _r, b=bound: max(v) <= b,
                        "ms",
                        "none",
                    )
                )
            idle, load = dig(r, "rss_idle_mib"), dig(r, "rss_load_mib")
            if idle is not None and load is not None and r.get("scenario") == "streams5000":
                rows.append(
                    Row(
                        f"SSE {backend}: RSS growth, {streams} streams",
                        [load - idle],
                        [],
                        "",
                        [],
                        "≤ +300 MiB",
                        lambda v, _r: max(v) <= 300,
                        "MiB",
                        "none",
                    )
                )
    return rows


def regress_rows(path: Path) -> list[Row]:
    runs = lines(path)
    rows = []
    for backend, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        now = [x for x in runs if x["backend"] == backend and x["which"] == "now"]
        base = [x for x in runs if x["backend"] == backend and x["which"] == "base"]
        rows.append(
            ratio_rows(
                f"{label}: drain with this round's features unused",
                values(dig(x, "run", "B_batch_1p", "drain", "throughput_per_s") for x in now),
                values(dig(x, "run", "B_batch_1p", "drain", "throughput_per_s") for x in base),
                "lro at v1 (216624f)",
                "≥ 0.9" + TIMES,
                lambda _v, r: min(r) >= 0.9,
            )
        )
    return rows


def span(xs: list[float], unit: str) -> str:
    if not xs:
        return DASH
    small = unit in ("ms", "MiB") or max(abs(x) for x in xs) < 10
    digits = 2 if unit == "x" else 1 if small else 0
    lo, hi = f"{min(xs):,.{digits}f}", f"{max(xs):,.{digits}f}"
    return lo if lo == hi else f"{lo}{DASH}{hi}"


def render(rows: list[Row]) -> str:
    out = [
        "| figure | lro | reference | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        unit = "" if r.unit == "/s" else f" {r.unit}"
        value = span(r.lro, r.unit) + unit if r.lro else DASH
        ref = f"{span(r.reference, r.unit)}{unit} ({r.ref_name})" if r.reference else DASH
        if not r.ratios or r.ratio_kind == "none":
            ratio = DASH
        elif r.ratio_kind == "over":
            ratio = f"+{span(r.ratios, r.unit)}{unit}"
        else:
            ratio = span(r.ratios, "x") + TIMES
        if r.met is None:
            met = ""
        elif not r.lro or (r.ratio_kind != "none" and not r.ratios):
            met = "not measured"
        else:
            met = "yes" if r.met(r.lro, r.ratios) else "no"
        out.append(f"| {r.figure} | {value} | {ref} | {ratio} | {r.goal} | {met} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, to check the chain")
    parser.add_argument("--only", default="bench,pg,sse,redis,regress")
    parser.add_argument("--out", type=Path, help="folder for the raw figures")
    parser.add_argument(
        "--summarize", type=Path, metavar="DIR", help="only print the table of an earlier run"
    )
    args = parser.parse_args()
    if args.summarize:
        folder = args.summarize
        timings: dict[str, tuple[float, int]] = {}
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        folder = args.out or BENCH / "results" / f"all-{stamp}"
        folder.mkdir(parents=True, exist_ok=True)
        chosen = set(args.only.split(","))
        timings = {s.name: run_step(s, folder, args.quick) for s in STEPS if s.name in chosen}
    rows = [
        *bench_rows(folder / "bench.jsonl"),
        *peer_rows(folder / "pg.jsonl", "lro", "pgqueuer", "PostgreSQL", drain2=True),
        *sse_rows(folder / "sse.jsonl"),
        *peer_rows(folder / "redis.jsonl", "lro-redis", "bullmq-py", "Redis", drain2=False),
        *regress_rows(folder / "regress.jsonl"),
    ]
    print(f"\nlro bench-all, {datetime.now(UTC).isoformat(timespec='seconds')}, raw: {folder}")
    for name, (seconds, status) in timings.items():
        state = "ok" if status == 0 else ("timed out" if status < 0 else f"exit {status}")
        print(f"  {name}: {seconds / 60:.1f} min, {state}")
    print(render([r for r in rows if r.lro or r.reference]))
    sys.exit(0)


if __name__ == "__main__":
    main()
