"""What a worker has done, counted as it happens: test signals, the CLI's exit line, and
the labels the metrics use for each way an attempt ends."""

from __future__ import annotations

import dataclasses

from lro.worker.executor import Outcome


@dataclasses.dataclass(slots=True)
class WorkerStats:
    """What this worker has done; a stable surface for tests and the CLI."""

    claimed: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    released: int = 0
    handed: int = 0
    """Jobs started from a hand-off at submit instead of a claim (PostgreSQL)."""
    lost: int = 0
    """Attempts whose lease was taken away; their outcome was dropped."""


OUTCOME_LABELS = {
    Outcome.COMPLETING: "completed",
    Outcome.RETRIED: "retried",
    Outcome.FAILED: "failed",
    Outcome.CANCELLED: "cancelled",
    Outcome.RELEASE: "released",
    Outcome.LOST: "lost",
}
TIMED = frozenset({"completed", "failed", "retried", "cancelled"})
"""Outcomes whose run time is a job's run time (a release or a lost lease is not)."""


__all__ = ["OUTCOME_LABELS", "TIMED", "WorkerStats"]
