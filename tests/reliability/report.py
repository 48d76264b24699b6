"""The table at the end of a session: one row per scenario and backend, with its verdict
and the counts behind it (conftest.py wires these hooks in).

`RELIABILITY_TABLE=path` also writes the table to that file.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from typing import Any

import pytest
from tests.reliability.verdict import Verdict

VERDICT = pytest.StashKey[Verdict]()


@dataclass(frozen=True)
class Row:
    scenario: str
    backend: str
    outcome: str
    seconds: float
    counts: dict[str, object]


ROWS: list[Row] = []


def outcome_of(report: pytest.TestReport) -> str:
    if report.passed:
        return "xpass" if hasattr(report, "wasxfail") else "pass"
    if report.skipped:
        return "xfail" if hasattr(report, "wasxfail") else "n/a"
    if isinstance(report.longrepr, str) and report.longrepr.startswith("[XPASS(strict)]"):
        return "XPASS(strict)"
    return "FAIL"


def record(item: pytest.Item, report: pytest.TestReport) -> None:
    """Called with each phase's report: the call phase decides a row, and so does a setup
    that did not pass (a scenario that does not apply to a backend is skipped there)."""
    if report.when == "call" or (report.when == "setup" and not report.passed):
        params: dict[str, Any] = getattr(getattr(item, "callspec", None), "params", {})
        scenario = getattr(item, "originalname", item.name).removeprefix("test_")
        verdict = item.stash.get(VERDICT, None)
        outcome = outcome_of(report)
        seconds = report.duration
        if verdict is None and "backend" not in params:
            return  # not a scenario (a test of the harness itself)
        if verdict is None:
            counts: dict[str, object] = {}
            if outcome == "n/a" and isinstance(report.longrepr, tuple):
                why = str(report.longrepr[2]).removeprefix("Skipped: ").removeprefix("n/a: ")
                counts = {"why": why}
            ROWS.append(Row(scenario, str(params.get("backend", "-")), outcome, seconds, counts))
            return
        rows = [v for v in verdict.rows if v.counts] or verdict.rows[:1]
        for v in rows:
            ROWS.append(Row(v.scenario, v.backend, outcome, seconds, dict(v.counts)))


def format_counts(counts: dict[str, object]) -> str:
    def fmt(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    return " ".join(f"{k}={fmt(v)}" for k, v in counts.items())


def table(rows: list[Row], width: int = 140) -> list[str]:
    head = ("scenario", "backend", "verdict", "secs", "counts")
    cells = [
        (r.scenario, r.backend, r.outcome, f"{r.seconds:.0f}", format_counts(r.counts))
        for r in rows
    ]
    w = [max(len(head[i]), *(len(c[i]) for c in cells)) for i in range(4)]
    indent = sum(w) + 2 * 4
    wrap = max(40, width - indent)
    lines = ["  ".join(h.ljust(w[i]) for i, h in enumerate(head[:4])) + "  " + head[4]]
    lines.append("-" * min(width, indent + wrap))
    for c in cells:
        parts = textwrap.wrap(c[4], wrap) or [""]
        lines.append("  ".join(c[i].ljust(w[i]) for i in range(4)) + "  " + parts[0])
        lines.extend(" " * indent + p for p in parts[1:])
    return lines


def summary(terminalreporter: Any) -> None:
    if not ROWS:
        return
    lines = table(ROWS)
    terminalreporter.write_sep("=", "reliability scenarios")
    for line in lines:
        terminalreporter.write_line(line)
    path = os.environ.get("RELIABILITY_TABLE")
    if path:
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
