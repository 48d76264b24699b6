"""One job command's session with the server: a `Client` built from `--url`/`--api-key`
(or LRO_URL/LRO_API_KEY), the `Output` mode, and the client's errors turned into one line
on stderr and an exit status by `run`, so no traceback ever reaches a person.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import httpx

from lro.cli.jobs import options
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.output import Output
from lro.client import ApiError, Client, ClientError, TransportFailure

Command = Callable[[argparse.Namespace, Client, Output], int]


def url_option(args: argparse.Namespace) -> str:
    """` --url X` to repeat in hints when the address came from the flag; from LRO_URL or
    the default it is already what the next command will use."""
    return f" --url {args.url}" if args.url else ""


def retries(args: argparse.Namespace) -> int:
    """Few retries for a one-shot request: a person asking "what is my job doing?" of a
    server that is down wants to hear so within a second or two, not after the client's
    default five backoffs. Following a job keeps the default, to ride out a restart."""
    follows = args.command == "wait" or getattr(args, "wait", False)
    return 5 if follows else 2


def run(command: Command, args: argparse.Namespace) -> int:
    """Run one command with a client; the client's errors become one line on stderr."""
    out = Output(json_mode=bool(args.json))
    try:
        args.base_url = options.server_url(args.url)
    except options.UsageError as exc:
        out.error(str(exc))
        return Exit.USAGE
    try:
        client = Client(
            args.base_url, api_key=options.api_key(args.api_key), max_retries=retries(args)
        )
        with client:
            return command(args, client, out)
    except options.UsageError as exc:
        out.error(str(exc))
        return Exit.USAGE
    except ApiError as exc:
        out.error(f"{exc.title} (HTTP {exc.status})", exc.detail)
        return Exit.FAILED
    except (TransportFailure, httpx.TransportError) as exc:
        out.error(f"cannot reach the lro server at {args.base_url}: {exc}")
        return Exit.FAILED
    except ClientError as exc:  # e.g. ProtocolError: something else answers at that URL
        out.error(f"unexpected answer from {args.base_url}: {exc}")
        return Exit.FAILED
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
