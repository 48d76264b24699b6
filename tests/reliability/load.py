"""Load through real processes, with or without a worker SIGKILLed every few seconds, and
the verdict on it: the counts of the issue's item 2, taken from the run log (each run's
start and end) and the store.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

from tests.reliability.harness import Rig
from tests.reliability.runlog import overlaps
from tests.reliability.traffic import Traffic
from tests.reliability.verdict import Verdict
from tests.support.procs import LroProcess


def body(i: int) -> dict[str, object]:
    """2-17 ms per job, and one job in 50 of 250 ms, so that a kill always finds handlers
    running and cuts some of them short."""
    return {"ms": 250 if i % 50 == 25 else 2 + i % 16}


@dataclass
class Killer:
    """SIGKILLs the workers in turn every `every` seconds and starts a replacement at once
    (as a supervisor would), until stopped."""

    rig: Rig
    every: float
    concurrency: int
    kills: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="killer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            live = [w for w in self.rig.workers if w.alive()]
            victim: LroProcess = live[self.kills % len(live)]
            self.rig.kill(victim)
            self.kills += 1
            self.rig.start_worker(concurrency=self.concurrency)


def run_load(
    rig: Rig,
    verdict: Verdict,
    *,
    jobs: int,
    apis: int,
    workers: int,
    concurrency: int,
    kill_every: float | None,
    lease: float,
    submitters: int = 24,
) -> None:
    """`lease` (seconds): long enough that a live worker starved of CPU by the load keeps
    its leases (a lost one would count as an unexplained rerun), short enough that a
    killed worker's jobs come back soon."""
    rig.group.env["LRO_LEASE_SECONDS"] = str(lease)
    bases = [rig.start_api().base_url for _ in range(apis)]
    for _ in range(workers):
        rig.start_worker(concurrency=concurrency)
    rig.wait_listening()
    began = time.monotonic()
    killer = Killer(rig, kill_every, concurrency) if kill_every else None
    traffic = Traffic(bases, route="/load", body=body, submitters=submitters, limit=jobs)
    with traffic:
        if killer:
            killer.start()
        try:
            rig.wait(
                lambda: len(traffic.accepted) >= jobs,
                timeout=jobs / 20 + 120,
                what=f"{jobs} submits accepted",
                interval=1,
            )
        finally:
            if killer:
                killer.stop()
    submitted_s = time.monotonic() - began
    rig.wait_drained(timeout=jobs / 50 + 180, what=f"all {jobs} jobs to end")
    drained_s = time.monotonic() - began
    judge(rig, verdict, traffic, killer, submitted_s, drained_s)


def judge(
    rig: Rig,
    verdict: Verdict,
    traffic: Traffic,
    killer: Killer | None,
    submitted_s: float,
    drained_s: float,
) -> None:
    accepted = set(traffic.accepted)
    runs = rig.runlog.by_job()
    counts = rig.db.status_counts()
    attempts = rig.db.attempts()
    killed = set(rig.killed_at)
    # Every run but a job's last must have been cut short by a kill (or have returned in a
    # process killed before its completion was durable): a rerun for any other reason
    # means a live worker lost a job.
    unexplained = sum(1 for job_runs in runs.values() for r in job_runs[:-1] if r.pid not in killed)
    verdict.update(
        accepted=len(accepted),
        lease_s=float(rig.group.env["LRO_LEASE_SECONDS"]),
        kills=killer.kills if killer else 0,
        completed=counts["completed"],
        failed=counts["failed"],
        not_terminal=rig.db.unfinished(),
        processing_left=rig.db.processing(),
        runs=sum(len(r) for r in runs.values()),
        never_ran=len(accepted - set(runs)),
        rerun_jobs=sum(1 for r in runs.values() if len(r) > 1),
        unexplained_reruns=unexplained,
        overlaps=len(overlaps(runs, rig.killed_at)),
        not_first_attempt=sum(n for a, n in attempts.items() if a != 1),
        max_attempt=max(attempts),
        answers_5xx=traffic.errors_5xx,
        submits_per_s=round(len(accepted) / submitted_s),
        drain_s=round(drained_s),
    )
    assert verdict["answers_5xx"] == 0, traffic.evidence
    assert verdict["completed"] == verdict["accepted"] == sum(counts.values()), verdict
    assert verdict["not_terminal"] == verdict["processing_left"] == 0, verdict
    assert verdict["never_ran"] == 0 and verdict["failed"] == 0, verdict
    assert verdict["overlaps"] == 0 and verdict["unexplained_reruns"] == 0, verdict
    if killer is None:
        assert verdict["not_first_attempt"] == 0 and verdict["rerun_jobs"] == 0, verdict
    rig.assert_alive()


def attempts_histogram(rig: Rig) -> str:
    return " ".join(f"{a}:{n}" for a, n in sorted(collections.Counter(rig.db.attempts()).items()))
