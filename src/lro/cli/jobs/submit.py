"""`lro submit OPERATION [KEY=VALUE ...]`: submit a job, print its id, and with `--wait`
follow it like `lro wait`.

The KEY=VALUE words may come before, between and after options
(`lro submit reports.generate --wait rows=5 delay_seconds=1`), so this command's parser
is intermixed; `--json` may carry the parameters too (`options.JsonFlag`).
"""

from __future__ import annotations

import argparse
import time

from lro.cli.jobs import arguments, options
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.follow import follow, report_outcome
from lro.cli.jobs.output import Output
from lro.cli.jobs.session import url_option
from lro.cli.parser import CommandParser
from lro.client import Client


def define(p: CommandParser) -> None:
    p.intermixed = True
    p.epilog = (
        "Values are JSON when they parse (rows=100 is a number), else strings "
        "(name=bob). Example: lro submit reports.generate rows=100 delay_seconds=0.5 --wait"
    )
    arguments.connect(p, run)
    p.add_argument("words", nargs="*", metavar="OPERATION KEY=VALUE")
    p.add_argument(
        "--json",
        nargs="?",
        action=options.JsonFlag,
        metavar="PARAMS",
        default=False,
        help="print the job resource as JSON; PARAMS, if given, is a JSON object, @FILE "
        "or - (stdin) with the parameters (KEY=VALUE words override its keys)",
    )
    p.add_argument("--callback-url", metavar="URL", help="webhook URL for the outcome")
    p.add_argument("--priority", type=int, metavar="N", help="higher runs first")
    p.add_argument("--idempotency-key", metavar="KEY", help="submit at most once per key")
    p.add_argument("--wait", action="store_true", help="then follow it like `lro wait`")
    p.add_argument(
        "--respond-async",
        action="store_true",
        help="have the server answer at once with the queued job (Prefer: respond-async), "
        "even for an operation it would otherwise finish before answering",
    )
    arguments.timeout(p)
    p.set_defaults(params_source=None, spilled_words=[])


def run(args: argparse.Namespace, client: Client, out: Output) -> int:
    started = time.monotonic()  # --timeout counts the submit too
    operation, pairs = options.split_operation([*args.words, *args.spilled_words])
    params = options.load_params_source(args.params_source) if args.params_source else {}
    params.update(options.parse_pairs(pairs))
    job = client.submit(
        operation,
        params,
        callback_url=args.callback_url,
        priority=args.priority,
        idempotency_key=args.idempotency_key,
        # A server holding the submit (an operation's respond_within) would spend the
        # --timeout before the job is even known: ask for the 202 at once instead.
        respond_async=args.respond_async or (args.wait and args.timeout is not None),
    )
    if args.wait:
        if out.tty:
            out.line(f"submitted {operation} job {job.job_id}", "bold")
        elif out.plain:
            out.line(job.job_id)
        return follow(
            client,
            job,
            out,
            timeout=args.timeout,
            started=started,
            base_url=args.base_url,
            url_option=url_option(args),
        )
    if out.json:
        out.document(job)
    elif out.tty:
        out.line(f"submitted {operation} job {job.job_id}", "bold")
        if job.is_terminal:  # the server answered 200: it ended before answering
            report_outcome(job, out, args.base_url, url_option(args))
        else:
            out.line(f"  follow it: lro wait {job.job_id}{url_option(args)}", "dim")
    else:
        out.line(job.job_id)
    # The submit worked, whether the server answered before or after the job ended: how
    # the job ended is for `--wait` (or `lro wait`) to say, so that a script's exit status
    # does not change with how long a server chooses to hold the request.
    return Exit.OK
