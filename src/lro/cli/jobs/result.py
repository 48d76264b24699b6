"""`lro result JOB [-o FILE]`: download a completed job's result, byte for byte, to a file
or to stdout."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from lro.cli.jobs import arguments
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.output import Output
from lro.cli.parser import CommandParser
from lro.client import Client


def define(p: CommandParser) -> None:
    arguments.connect(p, run)
    p.add_argument("job", metavar="JOB")
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="write to FILE (- for stdout, the default)",
    )
    arguments.json_output(p)


def run(args: argparse.Namespace, client: Client, out: Output) -> int:
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
