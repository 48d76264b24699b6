"""The table of `bench/regress.sh`: drain of lro now against the v1 base, per backend.

    python bench/regress_table.py bench/results/regress-*.jsonl

Each round ran base then now in the same minutes, so the ratio is taken per round and
shown as a range over the rounds, beside the ranges of the figures themselves.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any


def _drain(line: dict[str, Any]) -> float | None:
    run = line["run"].get("B_batch_1p", {})
    value = run.get("drain", {}).get("throughput_per_s")
    return float(value) if isinstance(value, int | float) else None


def _enqueue(line: dict[str, Any]) -> float | None:
    value = line["run"].get("B_batch_1p", {}).get("enqueue_batch_per_s")
    return float(value) if isinstance(value, int | float) else None


def _span(values: list[float], fmt: str) -> str:
    if not values:
        return "\u2013"
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return lo if lo == hi else f"{lo}\u2013{hi}"


def table(lines: list[dict[str, Any]]) -> str:
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by[(line["backend"], line["which"])].append(line)
    rows = [
        "| backend | drain base /s | drain now /s | now ÷ base (per round) "
        "| batch submit base /s | batch submit now /s | load |",
        "|---|---|---|---|---|---|---|",
    ]
    for backend in ("sqlite", "postgres"):
        base, now = by.get((backend, "base"), []), by.get((backend, "now"), [])
        if not base and not now:
            continue
        ratios = [
            n / b
            for b, n in zip((_drain(x) for x in base), (_drain(x) for x in now), strict=False)
            if b and n
        ]
        rows.append(
            "| {} | {} | {} | {} | {} | {} | {} |".format(
                backend,
                _span([d for d in map(_drain, base) if d], "{:,.0f}"),
                _span([d for d in map(_drain, now) if d], "{:,.0f}"),
                _span(ratios, "{:.2f}\u00d7"),
                _span([e for e in map(_enqueue, base) if e], "{:,.0f}"),
                _span([e for e in map(_enqueue, now) if e], "{:,.0f}"),
                ", ".join(x["load"].split()[0] for x in base + now),
            )
        )
    return "\n".join(rows)


def main() -> None:
    lines: list[dict[str, Any]] = []
    for path in sys.argv[1:]:
        with open(path) as fh:
            lines += [json.loads(t) for t in fh if t.strip()]
    print(table(lines))


if __name__ == "__main__":
    main()
