"""`lro wait JOB`: follow a job with a progress bar until it ends; the exit status says how
it ended (see `Exit`)."""

from __future__ import annotations

import argparse
import time

from lro.cli.jobs import arguments
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.follow import follow
from lro.cli.jobs.output import Output
from lro.cli.jobs.session import url_option
from lro.cli.parser import CommandParser
from lro.client import Client


def define(p: CommandParser) -> None:
    p.epilog = (
        f"Exit status: {Exit.OK} completed, {Exit.FAILED} failed (or an error), "
        f"{Exit.CANCELLED} cancelled, {Exit.TIMEOUT} --timeout elapsed, "
        f"{Exit.INTERRUPTED} interrupted."
    )
    arguments.connect(p, run)
    p.add_argument("job", metavar="JOB")
    arguments.timeout(p)
    arguments.json_output(p)


def run(args: argparse.Namespace, client: Client, out: Output) -> int:
    started = time.monotonic()
    job = client.get(args.job)
    return follow(
        client,
        job,
        out,
        timeout=args.timeout,
        started=started,
        base_url=args.base_url,
        url_option=url_option(args),
    )
