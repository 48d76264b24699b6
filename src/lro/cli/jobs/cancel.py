"""`lro cancel JOB`: cancel a queued job at once, or ask a running one to stop; exits 0
whatever the job's status."""

from __future__ import annotations

import argparse

from lro.cli.jobs import arguments
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.output import Output
from lro.cli.jobs.session import url_option
from lro.cli.parser import CommandParser
from lro.client import Client


def define(p: CommandParser) -> None:
    arguments.connect(p, run)
    p.add_argument("job", metavar="JOB")
    arguments.json_output(p)


def run(args: argparse.Namespace, client: Client, out: Output) -> int:
    job = client.cancel(args.job)
    if out.json:
        out.document(job)
    elif job.status == "cancelled":
        out.line(f"cancelled job {job.job_id}", "magenta")
    else:
        out.line(f"cancellation requested for job {job.job_id} ({job.status})", "magenta")
        out.line(f"  follow it: lro wait {job.job_id}{url_option(args)}", "dim")
    return Exit.OK
