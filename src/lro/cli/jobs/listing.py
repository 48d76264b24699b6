"""`lro jobs`: list jobs, newest first, one page (`--limit`, `--cursor`) or all of them
(`--all`); a table on a terminal, aligned columns on a pipe, one document with `--json`."""

from __future__ import annotations

import argparse

from lro.cli.jobs import arguments, describe, options
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.output import Output
from lro.cli.parser import CommandParser
from lro.client import Client, JobResource


def define(p: CommandParser) -> None:
    arguments.connect(p, run)
    p.add_argument(
        "--status",
        action="append",
        type=options.status_list,
        metavar="STATUS[,STATUS]",
        help="only jobs in these statuses (repeatable)",
    )
    p.add_argument("--operation", metavar="NAME", help="only jobs of this operation")
    p.add_argument(
        "--tag",
        action="append",
        metavar="TAG",
        help="only jobs carrying this tag (repeatable: jobs carrying all of them)",
    )
    p.add_argument(
        "--created-after", metavar="TIME", help="only jobs created after this RFC 3339 time"
    )
    p.add_argument(
        "--created-before", metavar="TIME", help="only jobs created before this RFC 3339 time"
    )
    p.add_argument(
        "--search", metavar="TEXT", help="a job id prefix, or text in the step or error title"
    )
    p.add_argument("--limit", type=options.page_size, metavar="N", help="page size (1-200)")
    p.add_argument("--all", action="store_true", help="follow the cursors to list every job")
    p.add_argument("--cursor", metavar="CURSOR", help="the page after an earlier listing")
    arguments.json_output(p)


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
        ("TAGS", ",".join(job.tags), "dim"),
        ("CREATED", when, ""),
    ]


def run(args: argparse.Namespace, client: Client, out: Output) -> int:
    statuses = sorted({s for group in args.status or [] for s in group}) or None
    next_cursor: str | None = None
    filters = {
        "status": statuses,
        "operation": args.operation,
        "tag": args.tag,
        "created_after": args.created_after,
        "created_before": args.created_before,
        "q": args.search,
    }
    if args.all:
        jobs = list(client.iter_jobs(page_size=args.limit, **filters))
    else:
        page = client.list(limit=args.limit, cursor=args.cursor, **filters)
        jobs, next_cursor = list(page.items), page.next_cursor
    if out.json:
        out.document({"items": jobs, "next_cursor": next_cursor})
        return Exit.OK
    if not jobs:
        out.note("no jobs match")
        return Exit.OK
    headers = ["JOB", "OPERATION", "STATUS", "PROGRESS", "STEP", "TAGS", "CREATED"]
    out.table(headers, [_job_cells(job, out) for job in jobs])
    if next_cursor:
        out.note(f"more jobs: add --all, or --cursor {next_cursor}")
    return Exit.OK
