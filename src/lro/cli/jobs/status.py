"""`lro status JOB`: a job's status, progress, times and outcome, as `label: value` rows
(or the job resource with `--json`); exits 0 whatever the job's status."""

from __future__ import annotations

import argparse

from lro.cli.jobs import arguments, describe
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
    job = client.get(args.job)
    if out.json:
        out.document(job)
    else:
        now = describe.now_utc()
        out.rows(describe.summary_rows(job, args.base_url, url_option(args), now))
    return Exit.OK
