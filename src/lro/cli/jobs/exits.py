"""Exit statuses of the people commands, in a module of their own so `lro --help` and the
parser can name them without importing the client or rich."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """What a script can branch on; 2 stays argparse's "bad command line"."""

    OK = 0  # the command worked; for wait: the job completed
    FAILED = 1  # the job failed, or the server refused the request / could not be reached
    USAGE = 2  # the command line was wrong
    CANCELLED = 3  # the job was cancelled
    TIMEOUT = 4  # --timeout elapsed first; the job goes on
    INTERRUPTED = 130  # Ctrl-C; the job goes on
