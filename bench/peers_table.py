"""Print the side-by-side table of a peer-harness run (JSON lines written by `--out`).

    python bench/peers_table.py bench/results/peers-*.jsonl

One row per system; a system measured in several rounds shows min-max ranges. "drain 1
proc" pools phase A (after single submits) and phase B (after batch submits).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any

COLUMNS = (
    "submit one-by-one /s",
    "batch /s",
    "drain 1 proc /s",
    "drain 2 procs /s",
    "pickup p50 ms",
    "pickup p95 ms",
)


def _get(d: dict[str, Any], *path: str) -> float | None:
    cur: Any = d
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return float(cur) if isinstance(cur, int | float) else None


def figures(run: dict[str, Any]) -> dict[str, list[float]]:
    """The table's figures from one harness run (one JSON line)."""
    got: dict[str, list[float | None]] = {
        COLUMNS[0]: [_get(run, "A_single", "enqueue_single_per_s")],
        COLUMNS[1]: [
            _get(run, "B_batch_1p", "enqueue_batch_per_s"),
            _get(run, "B_batch_2p", "enqueue_batch_per_s"),
        ],
        COLUMNS[2]: [
            _get(run, "A_drain", "throughput_per_s"),
            _get(run, "B_batch_1p", "drain", "throughput_per_s"),
        ],
        COLUMNS[3]: [_get(run, "B_batch_2p", "drain", "throughput_per_s")],
        COLUMNS[4]: [_get(run, "C_latency", "pickup_p50_ms")],
        COLUMNS[5]: [_get(run, "C_latency", "pickup_p95_ms")],
    }
    return {k: [x for x in v if x is not None] for k, v in got.items()}


def fmt(values: list[float], ms: bool) -> str:
    if not values:
        return "\u2013"
    lo, hi = min(values), max(values)
    one = (lambda x: f"{x:.1f}") if ms else (lambda x: f"{x:,.0f}")
    return one(lo) if one(lo) == one(hi) else f"{one(lo)}\u2013{one(hi)}"


def table(lines: list[str]) -> str:
    by_lib: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    names: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        run = json.loads(line)
        lib = run["lib"]
        names[lib] = f"{lib} {run.get('version', '?')}"
        for col, values in figures(run).items():
            by_lib[lib][col].extend(values)
    out = [
        "| system | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for lib, cols in by_lib.items():
        cells = [fmt(cols[c], c.endswith("ms")) for c in COLUMNS]
        out.append(f"| {names[lib]} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    lines: list[str] = []
    for path in sys.argv[1:]:
        with open(path) as f:
            lines.extend(f)
    print(table(lines))


if __name__ == "__main__":
    main()
