"""The people commands: submit, status, wait, jobs, cancel, result.

Each command builds a `Client` from `--url`/`--api-key` (or LRO_URL/LRO_API_KEY), makes
its requests and prints in the mode `Output` chose. `run` turns the client's errors into
one line on stderr and an exit status, so no traceback ever reaches a person.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from lro.cli_jobs import describe, options
from lro.cli_jobs.exits import Exit
from lro.cli_jobs.follow import follow, report_outcome
from lro.cli_jobs.output import Output
from lro.client import ApiError, Client, ClientError, JobResource, TransportFailure

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


def cmd_submit(args: argparse.Namespace, client: Client, out: Output) -> int:
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


def cmd_status(args: argparse.Namespace, client: Client, out: Output) -> int:
    job = client.get(args.job)
    if out.json:
        out.document(job)
    else:
        now = describe.now_utc()
        out.rows(describe.summary_rows(job, args.base_url, url_option(args), now))
    return Exit.OK


def cmd_wait(args: argparse.Namespace, client: Client, out: Output) -> int:
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


def _job_cells(job: JobResource, out: Output) -> list[describe.Row]:
    created = job.created_at
    when = ""
    if created is not None:
        when = describe.age(created, describe.now_utc()) if out.tty else describe.iso(created)
    return [
        ("JOB", job.job_id, "bold"),
        ("OPERATION", job.operation or "", ""),
        ("STATUS", job.status, describe.STATUS_STYLES.get(job.status, "")),
        ("PROGRESS", describe.percent(job), ""),
        ("STEP", job.step or "", "dim"),
        ("CREATED", when, ""),
    ]


def cmd_jobs(args: argparse.Namespace, client: Client, out: Output) -> int:
    statuses = sorted({s for group in args.status or [] for s in group}) or None
    next_cursor: str | None = None
    if args.all:
        jobs = list(
            client.iter_jobs(status=statuses, operation=args.operation, page_size=args.limit)
        )
    else:
        page = client.list(
            status=statuses, operation=args.operation, limit=args.limit, cursor=args.cursor
        )
        jobs, next_cursor = list(page.items), page.next_cursor
    if out.json:
        out.document({"items": jobs, "next_cursor": next_cursor})
        return Exit.OK
    if not jobs:
        out.note("no jobs match")
        return Exit.OK
    headers = ["JOB", "OPERATION", "STATUS", "PROGRESS", "STEP", "CREATED"]
    out.table(headers, [_job_cells(job, out) for job in jobs])
    if next_cursor:
        out.note(f"more jobs: add --all, or --cursor {next_cursor}")
    return Exit.OK


def cmd_cancel(args: argparse.Namespace, client: Client, out: Output) -> int:
    job = client.cancel(args.job)
    if out.json:
        out.document(job)
    elif job.status == "cancelled":
        out.line(f"cancelled job {job.job_id}", "magenta")
    else:
        out.line(f"cancellation requested for job {job.job_id} ({job.status})", "magenta")
        out.line(f"  follow it: lro wait {job.job_id}{url_option(args)}", "dim")
    return Exit.OK


def cmd_result(args: argparse.Namespace, client: Client, out: Output) -> int:
    if args.output != "-":
        path = client.download(args.job, Path(args.output))
        size = path.stat().st_size
        if out.json:
            out.document({"job_id": args.job, "path": str(path), "bytes": size})
        else:
            out.line(f"wrote {size} bytes to {path}")
        return Exit.OK
    # Through a temporary file: the client downloads to a path, and stdout then gets the
    # exact bytes (a CSV stays byte-for-byte what the server sent).
    with tempfile.TemporaryDirectory(prefix="lro-result-") as tmp:
        path = client.download(args.job, Path(tmp) / "result")
        with path.open("rb") as fh:
            shutil.copyfileobj(fh, sys.stdout.buffer)
        sys.stdout.flush()
    return Exit.OK
