"""The `lro` command (HTTP-CONTRACT §11): one table of commands, each defined in a module of
its own that is imported only when that command runs.

    lro serve | worker | migrate                     lro.cli.server (the server side)
    lro submit | status | wait | jobs | cancel | result | workers
                                                     lro.cli.jobs.* (clients of a server)

`COMMANDS` is the table: name, one line of help for `lro --help`, and the `module:function`
that defines the command's arguments (see `lro.cli.parser`). Adding a command is a module
with that function plus one line here. Mistakes an operator can fix end with a one-line
message and exit status 1 (`CLIError`), or 2 for a bad command line (argparse's own).

`pip install lro` installs the job commands only; `lro serve | worker | migrate` without
the `lro[server]` extra end with one line naming it, status 1 (lro.extras).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import NamedTuple, NoReturn

from lro.cli.parser import CommandParser

log = logging.getLogger("lro.cli")


class CLIError(Exception):
    """A problem the operator can fix; printed as one line, exit status 1."""


class Command(NamedTuple):
    name: str
    help: str
    define: str
    """`module:function` adding the command's arguments and its `func` to a CommandParser."""
    description: str | None = None


def _job(name: str, help: str, module: str | None = None) -> Command:
    """A job command: lro.cli.jobs.<module>, described by its help as a sentence."""
    description = help[0].upper() + help[1:] + "."
    return Command(name, help, f"lro.cli.jobs.{module or name}:define", description)


COMMANDS: tuple[Command, ...] = (
    Command(
        "serve", "run the HTTP API (and, unless --no-worker, a worker)", "lro.cli.server:serve"
    ),
    Command("worker", "run a worker process until SIGTERM/SIGINT", "lro.cli.server:worker"),
    Command(
        "migrate", "apply pending store migrations; print the version", "lro.cli.server:migrate"
    ),
    _job("submit", "submit a job (OPERATION KEY=VALUE ...) and print its id"),
    _job("status", "show a job's status, progress, times and outcome"),
    _job("wait", "follow a job with a progress bar until it ends"),
    _job("jobs", "list jobs, newest first", module="listing"),
    _job("cancel", "cancel a queued or running job"),
    _job("retry", "run a failed or cancelled job again, resuming after its steps"),
    _job("result", "download a completed job's result"),
    _job("schedules", "list, add, pause, resume, trigger or delete schedules"),
    _job("workers", "list the live worker processes (an admin's view)"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lro",
        description="Long-running operations: serve the HTTP API, run workers, migrate stores, "
        "and submit, follow and manage jobs on a running server.",
        epilog="Every setting can also come from LRO_* environment variables; flags win.",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=CommandParser
    )
    for command in COMMANDS:
        sub.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            define=command.define,
        )
    return parser


def setup_logging(level: str) -> None:
    """Every log line of the process in LRO_LOG_FORMAT (lro.logs). Read here rather than
    with the app's settings: logging starts before the app is loaded, so that loading it
    logs in the same format."""
    from lro import logs

    try:
        fmt = logs.log_format(os.environ.get("LRO_LOG_FORMAT"))
    except ValueError as exc:
        fail(str(exc), status=2)
    logs.configure(level, fmt)
    # httpx logs every request at INFO; webhook attempts are logged by lro.webhooks.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


def fail(message: str, status: int = 1) -> NoReturn:
    from lro import logs

    if logs.configured_format() == "json":
        log.error(message)  # a log shipper reads this process's stderr: one JSON line
    else:
        print(f"lro: error: {message}", file=sys.stderr)
    raise SystemExit(status)


def _without_server(exc: ModuleNotFoundError, command: str | None) -> None:
    """End with one line when `exc` is a missing package of the `server` extra; a command's
    module or its run can hit one (the server side is imported late, see lro.cli.parser)."""
    from lro.extras import missing_server_package, server_missing_message

    package = missing_server_package(exc)
    if package is None:
        return
    what = f"`lro {command}`" if command else "this command"
    fail(server_missing_message(what, package))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except ModuleNotFoundError as exc:
        _without_server(exc, None)
        raise
    setup_logging(args.log_level)
    try:
        return int(args.func(args))
    except ModuleNotFoundError as exc:
        _without_server(exc, args.command)
        raise
    except CLIError as exc:
        if args.log_level == "debug" and exc.__cause__ is not None:
            log.debug("details", exc_info=exc.__cause__)
        fail(str(exc))
    except KeyboardInterrupt:
        return 130


__all__ = ["COMMANDS", "CLIError", "Command", "build_parser", "main"]
