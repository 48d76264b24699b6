"""`lro retry JOB`: run a failed or cancelled job again under its id (HTTP-CONTRACT §14);
its completed steps are kept, so it resumes after them. Exits 1 (a 409) when the job is
queued, processing or completed."""

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
    job = client.retry(args.job)
    if out.json:
        out.document(job)
    else:
        out.line(f"retrying job {job.job_id} ({job.status}, attempt {job.attempt + 1})", "cyan")
        out.line(f"  follow it: lro wait {job.job_id}{url_option(args)}", "dim")
    return Exit.OK
