"""A ten-minute soak of steady, mixed traffic on both backends at once, with every lro
process's resident memory sampled (VmRSS from /proc/<pid>/status) every five seconds.

Each backend gets an API and two workers. Clients submit 15 jobs/s per backend (one in
ten with a webhook to a loopback receiver, a quarter reporting progress), poll them, and
follow event streams of the newest ones. No faults.

The bound: after a warm-up (the first fifth, at most 90 s: pools, statement caches,
feeds, the allocator's arenas fill), each process's RSS must stay within
BOUND_MIB + 10% of its own baseline (the largest sample of the warm-up's last 30 s).
Why that much and no more: once warm, a process's memory is flat apart from the
allocator's noise, a few MiB on this machine; a leak of one kilobyte per job over the
~7,000 jobs each backend runs after the warm-up is ~7 MiB per process on top of that, and
one of a few kilobytes per job, or per request (polls and streams are several per job),
breaks it.

The table shows the process that grew most, with its RSS at the end of the warm-up, its
peak in the first and in the whole of the rest (`warm/first half/all` MiB): a leak climbs
from one to the next, noise does not.

Verdict: no process grows past its bound; every job completes on its first attempt (no
faults, no reruns); every webhook arrives; no 5xx.
RELIABILITY_SOAK_SECONDS overrides the length.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from tests.reliability.harness import Rig, rss_kib
from tests.reliability.scenarios import reliability
from tests.reliability.traffic import Body, Traffic
from tests.reliability.verdict import Verdict
from tests.support.receiver import Receiver

SOAK_SECONDS = float(os.environ.get("RELIABILITY_SOAK_SECONDS", 600))
WARMUP = min(90.0, SOAK_SECONDS / 5)
SAMPLE_SECONDS = 5.0
BOUND_MIB = 16.0
RATE = 15.0


class Sampler:
    """RSS of every process of the rigs, every SAMPLE_SECONDS, in a thread."""

    def __init__(self, rigs: dict[str, Rig]) -> None:
        self.rigs = rigs
        self.samples: dict[tuple[str, str], list[tuple[float, int]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.began = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            at = time.monotonic() - self.began
            for backend, rig in self.rigs.items():
                for proc in rig.group.procs:
                    kib = rss_kib(proc.pid)
                    if kib is not None:
                        self.samples.setdefault((backend, proc.name), []).append((at, kib))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def body(receiver: Receiver) -> Body:
    def make(i: int) -> dict[str, object]:
        b: dict[str, object] = {"ms": 20}
        if i % 10 == 0:
            b["callback_url"] = receiver.url
        if i % 4 == 1:
            b["gate"], b["progress"], b["max_seconds"] = "/nonexistent", True, 0.3
        return b

    return make


@reliability
@pytest.mark.postgres
@pytest.mark.timeout(SOAK_SECONDS + 600)
def test_soak_holds_memory_flat(rigs: dict[str, Rig], verdict: Verdict) -> None:
    receiver = Receiver().start()
    traffics: dict[str, Traffic] = {}
    try:
        for backend, rig in rigs.items():
            base = rig.start_api().base_url
            rig.start_worker(concurrency=4)
            rig.start_worker(concurrency=4)
            rig.wait_listening()
            traffics[backend] = Traffic(
                [base],
                body=body(receiver),
                submitters=4,
                rate=RATE,
                pollers=2,
                poll_pause=0.05,
                streamers=1,
            )
        with Sampler(rigs) as sampler:
            for t in traffics.values():
                t.start()
            try:
                time.sleep(SOAK_SECONDS)  # the soak itself: a duration, not a verdict
            finally:
                for t in traffics.values():
                    t.stop()
        for rig in rigs.values():
            rig.wait_drained(timeout=120)
        hooked = {
            job_id
            for t in traffics.values()
            for job_id, i in zip(t.accepted, t.accepted_seq, strict=True)
            if i % 10 == 0
        }
        receiver.wait_requests(len(hooked), timeout=120)
        reached = {r.json()["data"]["job_id"] for r in receiver.requests}
    finally:
        receiver.stop()
    verdict.backend = "both"  # one receiver for both: this row counts its webhooks
    verdict.update(webhooks_expected=len(hooked), webhooks_missing=len(hooked - reached))
    judge(rigs, verdict, traffics, sampler)


def judge(
    rigs: dict[str, Rig],
    verdict: Verdict,
    traffics: dict[str, Traffic],
    sampler: Sampler,
) -> None:
    over: list[str] = []
    for backend, rig in rigs.items():
        row = verdict.row(backend)
        growth: dict[str, float] = {}
        peak: dict[str, float] = {}
        path: dict[str, str] = {}
        middle = (WARMUP + SOAK_SECONDS) / 2
        for (b, name), series in sampler.samples.items():
            if b != backend:
                continue
            warm = [k for at, k in series if WARMUP - 30 <= at <= WARMUP] or [series[0][1]]
            base = max(warm)
            mid = max((k for at, k in series if WARMUP < at <= middle), default=0)
            after = max((k for at, k in series if at > WARMUP), default=0)
            growth[name] = (after - base) / 1024
            peak[name] = after / 1024
            path[name] = f"{base / 1024:.1f}/{mid / 1024:.1f}/{after / 1024:.1f}"
            if growth[name] > BOUND_MIB + 0.1 * base / 1024:
                over.append(f"{backend}/{name}: {path[name]} MiB")
        worst = max(growth, key=lambda n: growth[n])
        counts = rig.db.status_counts()
        attempts = rig.db.attempts()
        t = traffics[backend]
        row.update(
            seconds=SOAK_SECONDS,
            accepted=len(t.accepted),
            completed=counts["completed"],
            not_first_attempt=sum(n for a, n in attempts.items() if a != 1),
            polls=sum(t.poll_statuses.values()),
            streams=t.streams,
            answers_5xx=t.errors_5xx,
            max_rss_mib=round(max(peak.values()), 1),
            max_growth_mib=round(growth[worst], 1),
            worst=worst,
            worst_rss_mib=path[worst],
            bound_mib=f"{BOUND_MIB:g}+10%",
            samples=sum(len(s) for (b, _), s in sampler.samples.items() if b == backend),
        )
        rig.assert_alive()
    for row in verdict.rows[1:]:
        assert row["completed"] == row["accepted"], row
        assert row["not_first_attempt"] == 0 and row["answers_5xx"] == 0, row
    assert not over, f"RSS grew past its bound: {over}; {verdict.rows[1:]}"
    assert verdict["webhooks_missing"] == 0, verdict.rows[1:]
