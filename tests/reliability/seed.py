"""Enqueue many jobs fast through the lro library (`lro.submit_many`, one transaction per
500), for scenarios whose subject is not the submit: `python seed.py N [OPERATION]`.

Run as a process of the rig (its environment names the store), so the test process never
holds a store of its own. Prints the job ids, one a line, to stdout.
"""

from __future__ import annotations

import asyncio
import sys

from app_rel import lro as app

from lro import SubmitRequest

BATCH = 500


async def seed(n: int, operation: str) -> list[str]:
    ids: list[str] = []
    try:
        for start in range(0, n, BATCH):
            batch = [
                SubmitRequest(operation, {"tag": f"seed-{i}"})
                for i in range(start, min(n, start + BATCH))
            ]
            ids.extend(job.id for job in await app.submit_many(batch))
    finally:
        await app.stop()
    return ids


if __name__ == "__main__":
    count = int(sys.argv[1])
    op = sys.argv[2] if len(sys.argv) > 2 else "rel.load"
    print("\n".join(asyncio.run(seed(count, op))))
