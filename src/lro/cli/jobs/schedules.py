"""`lro schedules`: the caller's schedules on a running server (HTTP-CONTRACT §16):
`list`, `add`, `pause`, `resume`, `trigger` and `delete`, through the client SDK."""

from __future__ import annotations

import argparse
import json

from lro.cli.jobs import arguments, describe
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.output import Output
from lro.cli.parser import CommandParser
from lro.client import Client, ScheduleResource


def define(p: CommandParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="list your schedules")
    arguments.connect(listing, _list)
    arguments.json_output(listing)
    add = sub.add_parser("add", help="create a schedule of an operation")
    arguments.connect(add, _add)
    add.add_argument("schedule_id", metavar="ID")
    add.add_argument("operation", metavar="OPERATION")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", metavar="EXPR", help='5-field cron, e.g. "0 3 * * *"')
    when.add_argument("--every", type=float, metavar="SECONDS", help="a fixed interval")
    add.add_argument("--timezone", metavar="ZONE", help="IANA zone of --cron (default UTC)")
    add.add_argument("--params", metavar="JSON", default="{}", help="the params, as JSON")
    add.add_argument("--overlap", choices=["skip", "allow"], help="default: skip")
    add.add_argument("--tag", action="append", metavar="TAG", help="a tag for its jobs")
    add.add_argument("--paused", action="store_true", help="create it paused")
    arguments.json_output(add)
    for name, func, text in (
        ("pause", _pause, "stop firing until resumed"),
        ("resume", _resume, "fire again"),
        ("trigger", _trigger, "run it now, paused or not"),
        ("delete", _delete, "delete it (its jobs stay)"),
    ):
        action = sub.add_parser(name, help=text)
        arguments.connect(action, func)
        action.add_argument("schedule_id", metavar="ID")
        arguments.json_output(action)


def _show(out: Output, s: ScheduleResource, verb: str) -> None:
    if out.json:
        out.document(s)
        return
    state = "paused" if s.paused else f"next {describe.iso(s.next_run_at)}" if s.next_run_at else ""
    out.line(f"{verb} schedule {s.schedule_id} ({state})", "magenta")


def _list(args: argparse.Namespace, client: Client, out: Output) -> int:
    items = client.list_schedules()
    if out.json:
        out.document({"items": items})
        return Exit.OK
    if not items:
        out.note("no schedules")
        return Exit.OK
    rows = [
        [
            ("SCHEDULE", s.schedule_id, "bold"),
            ("OPERATION", s.operation, ""),
            ("WHEN", s.cron or f"every {s.interval_seconds:g}s", ""),
            ("ZONE", s.timezone, "dim"),
            ("STATE", "paused" if s.paused else "active", "yellow" if s.paused else "green"),
            ("NEXT", describe.iso(s.next_run_at) if s.next_run_at else "", ""),
            ("LAST JOB", s.last_job_id or "", "dim"),
        ]
        for s in items
    ]
    out.table(["SCHEDULE", "OPERATION", "WHEN", "ZONE", "STATE", "NEXT", "LAST JOB"], rows)
    return Exit.OK


def _add(args: argparse.Namespace, client: Client, out: Output) -> int:
    try:
        params = json.loads(args.params)
    except ValueError as exc:
        out.note(f"--params is not JSON: {exc}")
        return Exit.USAGE
    made = client.create_schedule(
        args.operation,
        params,
        schedule_id=args.schedule_id,
        cron=args.cron,
        interval_seconds=args.every,
        timezone=args.timezone,
        overlap=args.overlap,
        paused=args.paused or None,
        tags=args.tag,
    )
    _show(out, made, "created")
    return Exit.OK


def _pause(args: argparse.Namespace, client: Client, out: Output) -> int:
    _show(out, client.update_schedule(args.schedule_id, {"paused": True}), "paused")
    return Exit.OK


def _resume(args: argparse.Namespace, client: Client, out: Output) -> int:
    _show(out, client.update_schedule(args.schedule_id, {"paused": False}), "resumed")
    return Exit.OK


def _trigger(args: argparse.Namespace, client: Client, out: Output) -> int:
    job = client.trigger_schedule(args.schedule_id)
    if out.json:
        out.document(job)
    else:
        out.line(job.job_id)
    return Exit.OK


def _delete(args: argparse.Namespace, client: Client, out: Output) -> int:
    client.delete_schedule(args.schedule_id)
    if out.json:
        out.document({"schedule_id": args.schedule_id, "deleted": True})
    else:
        out.line(f"deleted schedule {args.schedule_id}", "magenta")
    return Exit.OK
