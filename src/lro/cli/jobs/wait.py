"""`lro wait JOB`: follow a job with a progress bar until it ends; the exit status says how
it ended (see `Exit`). `--partials` prints the job's partial results as they come, one
JSON value per line (all of them, from the first)."""

from __future__ import annotations

import argparse
import json
import time

from lro.cli.jobs import arguments
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.follow import follow
from lro.cli.jobs.output import Output
from lro.cli.jobs.session import url_option
from lro.cli.parser import CommandParser
from lro.client import Client, Partial


def define(p: CommandParser) -> None:
    p.epilog = (
        f"Exit status: {Exit.OK} completed, {Exit.FAILED} failed (or an error), "
        f"{Exit.CANCELLED} cancelled, {Exit.TIMEOUT} --timeout elapsed, "
        f"{Exit.INTERRUPTED} interrupted."
    )
    arguments.connect(p, run)
    p.add_argument("job", metavar="JOB")
    arguments.timeout(p)
    p.add_argument(
        "--partials",
        action="store_true",
        help="print the job's partial results as they come, one JSON value per line",
    )
    arguments.json_output(p)


def run(args: argparse.Namespace, client: Client, out: Output) -> int:
    started = time.monotonic()
    job = client.get(args.job)

    def print_partial(partial: Partial) -> None:
        text = json.dumps(partial.data, separators=(",", ":"), ensure_ascii=False)
        if out.tty:
            out.console.out(text, highlight=False)
        else:
            out.line(text)

    return follow(
        client,
        job,
        out,
        timeout=args.timeout,
        started=started,
        base_url=args.base_url,
        url_option=url_option(args),
        on_partial=print_partial if args.partials else None,
    )
