"""A plain Python BullMQ worker that knows nothing of lro: `python py_worker.py REDIS_URL
[--remove] [--queue NAME]` (`--remove`: removeOnComplete / removeOnFail, BullMQ deletes
finished jobs; `--queue`: the BullMQ queue it serves, `default` unless given).

It serves its BullMQ queue the way any team's worker would, with the `bullmq`
package alone: `job.updateProgress(40)`, then (once the gate file `<job id>.go` exists
in `data["gate"]`, when given) `job.updateProgress({"partial": value})` for each of
`data["partials"]`, `job.updateProgress({"pct": 70, "step": "adding"})`, and returns
`{"sum": a + b}`; `data["fail"]` makes it throw that message instead.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from bullmq import Worker


async def process(job: Any, token: str) -> dict[str, int]:
    data = job.data
    await job.updateProgress(40)
    if data.get("gate"):
        go = Path(data["gate"]) / f"{job.id}.go"
        while not go.exists():  # noqa: ASYNC110 - a stat() per 20 ms
            await asyncio.sleep(0.02)
    for value in data.get("partials") or []:
        await job.updateProgress({"partial": value})
    if data.get("fail"):
        raise RuntimeError(data["fail"])
    await job.updateProgress({"pct": 70, "step": "adding"})
    return {"sum": data["a"] + data["b"]}


async def main(url: str, remove: bool, queue: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    opts: dict[str, Any] = {"connection": url, "prefix": "bull"}
    if remove:
        opts.update(removeOnComplete=True, removeOnFail=True)
    worker = Worker(queue, process, opts)
    print(f"py_worker {os.getpid()} ready", flush=True)
    await stop.wait()
    await worker.close()


if __name__ == "__main__":
    rest = sys.argv[2:]
    name = rest[rest.index("--queue") + 1] if "--queue" in rest else "default"
    asyncio.run(main(sys.argv[1], "--remove" in rest, name))
