"""Arguments every job command shares: where the server is (`--url`, `--api-key`), `--json`
and `--timeout`, and `connect`, which gives a command's parser those and the `func` that
runs the command through `session.run`."""

from __future__ import annotations

import argparse
import functools
import os

from lro.cli.jobs import options
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.session import Command, run


def connect(p: argparse.ArgumentParser, command: Command) -> None:
    """`--url`, `--api-key`, the log level from LRO_LOG_LEVEL, and `command` to run."""
    p.add_argument(
        "--url",
        metavar="URL",
        help=f"the lro server (env LRO_URL, default {options.DEFAULT_URL})",
    )
    p.add_argument("--api-key", metavar="KEY", help="bearer API key (env LRO_API_KEY)")
    p.set_defaults(
        log_level=os.environ.get("LRO_LOG_LEVEL", "warning").lower(),
        func=functools.partial(run, command),
    )


def json_output(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json", action="store_true", help="print one JSON document (for scripts), no colours"
    )


def timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=options.seconds,
        metavar="SECONDS",
        help=f"stop waiting after this long (exit status {Exit.TIMEOUT}); the job goes on",
    )
