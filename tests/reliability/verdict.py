"""A scenario's verdict: the counts it rests on (jobs accepted, completed, retried, runs,
overlaps, 5xx seen, ...), recorded before the scenario asserts on them, so that a failing
scenario shows the counts that prove the defect, and the table printed at the end of the
session (report.py) shows them for every scenario, passed, failed or xfailed.
"""

from __future__ import annotations

from typing import Any


class Verdict:
    """The counts behind one scenario's verdict on one backend (one row of the table)."""

    def __init__(self, scenario: str, backend: str, rows: list[Verdict] | None = None) -> None:
        self.scenario = scenario
        self.backend = backend
        self.counts: dict[str, object] = {}
        self._rows = rows if rows is not None else [self]

    def __setitem__(self, name: str, value: object) -> None:
        self.counts[name] = value

    def __getitem__(self, name: str) -> Any:
        return self.counts[name]

    def update(self, **counts: object) -> None:
        self.counts.update(counts)

    def row(self, backend: str) -> Verdict:
        """Another row of the same scenario (a scenario that runs both backends at once)."""
        other = Verdict(self.scenario, backend, self._rows)
        self._rows.append(other)
        return other

    @property
    def rows(self) -> list[Verdict]:
        return self._rows

    def __repr__(self) -> str:
        counts = " ".join(f"{k}={v}" for k, v in self.counts.items())
        return f"[{self.scenario} on {self.backend}: {counts}]"
