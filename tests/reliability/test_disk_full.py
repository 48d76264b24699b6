"""SQLite on a full filesystem: the store's file lives on a small tmpfs that the test
fills to the last byte, then grows again (`mount -o remount,size=`).

Verdict: while the disk is full, submits answer a problem (507 or 503), never a 500, and
polls of stored jobs still answer with what was stored; nothing stored before or during is
lost or corrupted (every job is still there, results unchanged, `PRAGMA integrity_check`
is `ok`); once there is room again, submits are accepted and every job completes, by
itself, with the same processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.reliability.db import Db
from tests.reliability.harness import Rig, rig_on
from tests.reliability.scenarios import backends, na
from tests.reliability.verdict import Verdict
from tests.support.procs import API
from tests.support.tmpfs import Tmpfs, tmpfs

BEFORE = 40
PAD = "x" * 200_000
"""Each submit during the outage needs ~50 pages: the file must grow to take it."""
TRIES = 200

NOT_LRO_DISK = na("a PostgreSQL server's disk is the server's, not lro's: its loss is an outage")


def stored(job: dict[str, Any]) -> dict[str, Any]:
    """The job as stored: its resource without the signed result link, which is signed
    afresh (with a later expiry) on every answer."""
    return {k: v for k, v in job.items() if k != "result_link"}


def fill_and_submit(rig: Rig, disk: Tmpfs, client: httpx.Client) -> dict[str, Any]:
    """Fill the disk, then submit bulky jobs until 20 are refused; count the answers."""
    disk.fill()
    answers: dict[str, Any] = {"accepted_ids": [], "refused": 0, "codes": set(), "other": []}
    for _ in range(TRIES):
        resp = client.post(f"{API}/work", json={"pad": PAD})
        if resp.status_code == 202:
            answers["accepted_ids"].append(resp.json()["job_id"])
        elif resp.status_code in (503, 507) and resp.headers["content-type"].startswith(
            "application/problem+json"
        ):
            answers["refused"] += 1
            answers["codes"].add(resp.status_code)
            if answers["refused"] >= 20:
                break
        else:
            answers["other"].append(f"{resp.status_code} {resp.text[:200]}")
    return answers


def start(rig: Rig) -> httpx.Client:
    api = rig.start_api()
    rig.start_worker(concurrency=4)
    return api.client()


def disk_rig(backend: str, tmp_path: Path, disk: Tmpfs) -> Any:
    path = disk.path / "lro.db"
    return rig_on(
        backend,
        tmp_path,
        f"sqlite:///{path}",
        Db(backend, sqlite_path=path),
        LRO_RESULT_DIR=str(disk.path / "results"),
    )


@pytest.mark.timeout(300)
@backends(postgres=NOT_LRO_DISK)
def test_sqlite_on_a_full_disk(backend: str, verdict: Verdict, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "16m") as disk, disk_rig(backend, tmp_path, disk) as rig:
        client = start(rig)
        with client:
            before = [rig.submit(client, "/work", {"tag": f"before-{i}"}) for i in range(BEFORE)]
            rig.wait_drained(timeout=60)
            kept = {j: stored(rig.job(client, j)) for j in before}
            gate = tmp_path / "gate"  # off the full disk
            running = [rig.submit(client, "/work", {"gate": str(gate)}) for _ in range(4)]
            rig.wait(
                lambda: all(rig.runlog.count("start", j) for j in running),
                timeout=60,
                what="4 jobs running",
            )
            answers = fill_and_submit(rig, disk, client)
            gate.touch()  # their completions now meet the full disk
            rig.wait(
                lambda: all(rig.runlog.count("end", j) for j in running),
                timeout=60,
                what="their handlers to return",
            )
            rig.wait(
                lambda: rig.log_lines("completion write failed"),
                timeout=60,
                what="their completions to meet the full disk",
            )
            polled = {j: stored(rig.job(client, j)) for j in before}
            disk.resize("256m")

            def accepted_again() -> str | None:
                resp = client.post(f"{API}/work", json={"tag": "after"})
                return resp.json()["job_id"] if resp.status_code == 202 else None

            after = rig.wait(accepted_again, timeout=60, what="a submit accepted again")
            rig.wait_drained(timeout=120, what="every job to end once there is room")
            final = {j: stored(rig.job(client, j)) for j in before}
            during = [rig.job(client, j) for j in [*running, *answers["accepted_ids"]]]
            last = rig.job(client, after)
        integrity = rig.db.scalar("PRAGMA integrity_check")
        rig.assert_alive()
    verdict.update(
        stored_before=len(kept),
        refused_while_full=answers["refused"],
        refusal_codes="/".join(map(str, sorted(answers["codes"]))),
        running_while_full=len(running),
        accepted_while_full=len(answers["accepted_ids"]),
        other_answers=len(answers["other"]),
        polls_unchanged=sum(1 for j in before if polled[j] == kept[j]),
        lost_or_changed=sum(1 for j in before if final[j] != kept[j]),
        completed_after=sum(1 for j in [*during, last] if j["status"] == "completed"),
        integrity=integrity,
    )
    assert verdict["refused_while_full"] >= 1 and not answers["other"], answers["other"]
    assert verdict["polls_unchanged"] == BEFORE and verdict["lost_or_changed"] == 0, verdict
    assert verdict["completed_after"] == len(during) + 1, verdict
    assert integrity == "ok", verdict


@backends(
    postgres=NOT_LRO_DISK,
)
def test_readyz_while_the_sqlite_disk_is_full(
    backend: str, verdict: Verdict, tmp_path: Path
) -> None:
    with (
        tmpfs(tmp_path / "disk", "16m") as disk,
        disk_rig(backend, tmp_path, disk) as rig,
        start(rig) as client,
    ):
        answers = fill_and_submit(rig, disk, client)
        ready = client.get("/readyz")
    verdict.update(refused_while_full=answers["refused"], readyz=ready.status_code)
    assert verdict["refused_while_full"] >= 1, verdict
    assert ready.status_code == 503, verdict
