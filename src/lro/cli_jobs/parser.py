"""The people commands' arguments, registered on `lro`'s own parser by `add_commands`.

`submit` accepts its KEY=VALUE words before, between and after options
(`lro submit reports.generate --wait rows=5 delay_seconds=1`): plain argparse takes a
`nargs="*"` positional only once, so that subparser parses intermixed (see
`IntermixedParser`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any, TypeAlias

from lro.cli_jobs import options
from lro.cli_jobs.exits import Exit

# Generic only for type checkers: argparse does not subscript at run time.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class IntermixedParser(argparse.ArgumentParser):
    """A subparser that lets positionals and options mix freely. The subparsers action
    calls `parse_known_args`; this routes it through `parse_known_intermixed_args`, which
    (before Python 3.12) calls back into `parse_known_args`: the flag stops the loop."""

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        if self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _connection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url",
        metavar="URL",
        help=f"the lro server (env LRO_URL, default {options.DEFAULT_URL})",
    )
    p.add_argument("--api-key", metavar="KEY", help="bearer API key (env LRO_API_KEY)")
    p.set_defaults(log_level=os.environ.get("LRO_LOG_LEVEL", "warning").lower())


def _json_output(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json", action="store_true", help="print one JSON document (for scripts), no colours"
    )


def _timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=options.seconds,
        metavar="SECONDS",
        help=f"stop waiting after this long (exit status {Exit.TIMEOUT}); the job goes on",
    )


def _dispatch(args: argparse.Namespace) -> int:
    # Imported on use: the client and rich cost a few hundred milliseconds that
    # `lro serve`, `lro worker` and `lro migrate` should not pay at start-up.
    from lro.cli_jobs import commands

    command: commands.Command = getattr(commands, f"cmd_{args.command}")
    return commands.run(command, args)


def _command(
    sub: Subparsers, name: str, help: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    """A subparser whose `func` runs `commands.cmd_<name>`."""
    description = help[0].upper() + help[1:] + "."
    p = sub.add_parser(name, help=help, description=description, epilog=epilog)
    _connection(p)
    p.set_defaults(func=_dispatch)
    return p


def _add_submit(sub: Subparsers) -> None:
    # add_parser builds the subparser from the action's class: swap in the intermixed one
    # for `submit` alone.
    saved, sub._parser_class = sub._parser_class, IntermixedParser
    try:
        submit = _command(
            sub,
            "submit",
            "submit a job (OPERATION KEY=VALUE ...) and print its id",
            epilog="Values are JSON when they parse (rows=100 is a number), else strings "
            "(name=bob). Example: lro submit reports.generate rows=100 delay_seconds=0.5 --wait",
        )
    finally:
        sub._parser_class = saved
    submit.add_argument("words", nargs="*", metavar="OPERATION KEY=VALUE")
    submit.add_argument(
        "--json",
        nargs="?",
        action=options.JsonFlag,
        metavar="PARAMS",
        default=False,
        help="print the job resource as JSON; PARAMS, if given, is a JSON object, @FILE "
        "or - (stdin) with the parameters (KEY=VALUE words override its keys)",
    )
    submit.add_argument("--callback-url", metavar="URL", help="webhook URL for the outcome")
    submit.add_argument("--priority", type=int, metavar="N", help="higher runs first")
    submit.add_argument("--idempotency-key", metavar="KEY", help="submit at most once per key")
    submit.add_argument("--wait", action="store_true", help="then follow it like `lro wait`")
    submit.add_argument(
        "--respond-async",
        action="store_true",
        help="have the server answer at once with the queued job (Prefer: respond-async), "
        "even for an operation it would otherwise finish before answering",
    )
    _timeout(submit)
    submit.set_defaults(params_source=None, spilled_words=[])


def add_commands(sub: Subparsers) -> None:
    """Register the people commands on `lro`'s subparsers."""
    _add_submit(sub)

    status = _command(sub, "status", "show a job's status, progress, times and outcome")
    status.add_argument("job", metavar="JOB")
    _json_output(status)

    wait = _command(
        sub,
        "wait",
        "follow a job with a progress bar until it ends",
        epilog=f"Exit status: {Exit.OK} completed, {Exit.FAILED} failed (or an error), "
        f"{Exit.CANCELLED} cancelled, {Exit.TIMEOUT} --timeout elapsed, "
        f"{Exit.INTERRUPTED} interrupted.",
    )
    wait.add_argument("job", metavar="JOB")
    _timeout(wait)
    _json_output(wait)

    jobs = _command(sub, "jobs", "list jobs, newest first")
    jobs.add_argument(
        "--status",
        action="append",
        type=options.status_list,
        metavar="STATUS[,STATUS]",
        help="only jobs in these statuses (repeatable)",
    )
    jobs.add_argument("--operation", metavar="NAME", help="only jobs of this operation")
    jobs.add_argument("--limit", type=options.page_size, metavar="N", help="page size (1-200)")
    jobs.add_argument("--all", action="store_true", help="follow the cursors to list every job")
    jobs.add_argument("--cursor", metavar="CURSOR", help="the page after an earlier listing")
    _json_output(jobs)

    cancel = _command(sub, "cancel", "cancel a queued or running job")
    cancel.add_argument("job", metavar="JOB")
    _json_output(cancel)

    result = _command(sub, "result", "download a completed job's result")
    result.add_argument("job", metavar="JOB")
    result.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="write to FILE (- for stdout, the default)",
    )
    _json_output(result)
