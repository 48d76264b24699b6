"""`lro workers`: the live worker processes of a server's deployment (HTTP-CONTRACT §18),
oldest first; a table on a terminal, aligned columns on a pipe, one document with
`--json`. With API keys it needs an admin's key, like `/metrics`."""

from __future__ import annotations

import argparse
from datetime import datetime

from lro.cli.jobs import arguments, describe
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.output import Output
from lro.cli.parser import CommandParser
from lro.client import Client, WorkerResource


def define(p: CommandParser) -> None:
    arguments.connect(p, run)
    arguments.json_output(p)


def _when(value: datetime | None, out: Output) -> str:
    if value is None:
        return ""
    return describe.age(value, describe.now_utc()) if out.tty else describe.iso(value)


def _cells(worker: WorkerResource, out: Output) -> list[describe.Row]:
    return [
        ("WORKER", worker.worker_id, "bold"),
        ("HOST", worker.host, ""),
        ("PID", "" if worker.pid is None else str(worker.pid), ""),
        ("BUSY", f"{worker.busy}/{worker.concurrency}", ""),
        ("QUEUES", ",".join(worker.queues), ""),
        ("OPERATIONS", ",".join(worker.operations), "dim"),
        ("STARTED", _when(worker.started_at, out), ""),
        ("LAST SEEN", _when(worker.last_seen_at, out), ""),
    ]


def run(args: argparse.Namespace, client: Client, out: Output) -> int:
    workers = client.workers()
    if out.json:
        out.document({"items": workers})
        return Exit.OK
    if not workers:
        out.note("no live workers")
        return Exit.OK
    headers = ["WORKER", "HOST", "PID", "BUSY", "QUEUES", "OPERATIONS", "STARTED", "LAST SEEN"]
    out.table(headers, [_cells(worker, out) for worker in workers])
    return Exit.OK
