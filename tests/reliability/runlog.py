"""Reading the run log app_rel writes, and judging it: runs as intervals, overlaps.

A *run* is one execution of a handler: its `start` line and, if the handler returned,
its `end` line (same job, same process). A run without an `end` was cut short: by a
SIGKILL of its process (the scenario knows when: `killed_at`), by a lost lease or a
shutdown, or it is still running.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Line:
    event: str
    job_id: str
    attempt: int
    pid: int
    at: float
    """`time.monotonic()` in the writing process: one clock for the whole machine."""


@dataclass(frozen=True)
class Run:
    job_id: str
    attempt: int
    pid: int
    start: float
    end: float | None
    """When the handler returned; None if it never did."""


@dataclass
class RunLog:
    """The lines of one run log, read incrementally (only whole lines)."""

    path: Path
    lines: list[Line] = field(default_factory=list)
    _offset: int = 0

    def refresh(self) -> list[Line]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return self.lines
        end = data.rfind(b"\n") + 1
        self._offset += end
        for text in data[:end].decode().splitlines():
            event, job_id, attempt, pid, at = text.split()
            self.lines.append(Line(event, job_id, int(attempt), int(pid), float(at)))
        return self.lines

    def count(self, event: str, job_id: str | None = None) -> int:
        return sum(
            1
            for line in self.refresh()
            if line.event == event and (job_id is None or line.job_id == job_id)
        )

    def runs(self) -> list[Run]:
        """Every run in start order; a start is closed by the next end of the same job in
        the same process."""
        open_: dict[tuple[str, int], Line] = {}
        out: list[Run] = []
        for line in self.refresh():
            key = (line.job_id, line.pid)
            if line.event == "start":
                if key in open_:  # started again in the same process without returning
                    first = open_[key]
                    out.append(Run(first.job_id, first.attempt, first.pid, first.at, None))
                open_[key] = line
            elif line.event == "end" and key in open_:
                first = open_.pop(key)
                out.append(Run(first.job_id, first.attempt, first.pid, first.at, line.at))
        out.extend(Run(s.job_id, s.attempt, s.pid, s.at, None) for s in open_.values())
        out.sort(key=lambda r: r.start)
        return out

    def by_job(self) -> dict[str, list[Run]]:
        jobs: dict[str, list[Run]] = collections.defaultdict(list)
        for run in self.runs():
            jobs[run.job_id].append(run)
        return jobs

    def open_in(self, pid: int) -> set[str]:
        """Jobs whose handler started in process `pid` and has not returned."""
        return {r.job_id for r in self.runs() if r.pid == pid and r.end is None}


def overlaps(
    runs_by_job: Mapping[str, Iterable[Run]], killed_at: Mapping[int, float]
) -> list[tuple[Run, Run]]:
    """Pairs of runs of one job that were alive at the same moment.

    A run that never returned ends when its process was known dead (`killed_at`, taken
    once the SIGKILLed process had exited: the latest it can have run), or never (a live
    process still inside the handler, which overlaps everything after it). So the only
    overlap allowed is none at all: a killed worker's last, unfinished run ends at its
    death, and a rescue only starts a lease later.
    """
    found: list[tuple[Run, Run]] = []
    for runs in runs_by_job.values():
        ordered = sorted(runs, key=lambda r: r.start)
        for i, a in enumerate(ordered):
            a_end = a.end if a.end is not None else killed_at.get(a.pid, math.inf)
            for b in ordered[i + 1 :]:
                if b.start < a_end:
                    found.append((a, b))
    return found
