"""Log lines as an operator's tools want them (HTTP-CONTRACT §18): `LRO_LOG_FORMAT=json`
writes one JSON object per line (`ts`, `level`, `logger`, `message`, and on every line
about a job `job_id`, `operation`, `attempt`, `worker_id`); `text` writes the classic
line. By default json unless stderr is a terminal: a log shipper (journald, Docker,
Kubernetes, Loki's agents) reads a pipe, a person reads a terminal.

The JSON comes from python-json-logger, a maintained formatter that turns every field of a
record (its `extra` included) into JSON and escapes what a hand-written one would get
wrong (newlines in messages, tracebacks, non-ASCII, odd types). The job fields come from a
context variable the worker sets around each attempt (`about_job`), so every line logged
while an attempt runs carries them, whoever logs it: lro, the handler, or a library the
handler calls, in its task or in the thread of a sync handler. Lines about a job logged
outside its attempt pass them as `extra` (`job_extra`).

One handler on the root logger serves every line: uvicorn's error and access loggers
propagate to it (the server is started without its own logging config), warnings are
captured, and an uncaught exception is logged rather than printed as a bare traceback.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import IO, Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

FORMATS = ("json", "text")
JOB_FIELDS = ("job_id", "operation", "attempt", "worker_id")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_job: contextvars.ContextVar[Mapping[str, object] | None] = contextvars.ContextVar(
    "lro_log_job", default=None
)


def job_extra(
    job_id: str, operation: str, attempt: int, worker_id: str | None
) -> dict[str, object]:
    """The fields of a line about a job, for `extra=` (or `about_job`)."""
    return {"job_id": job_id, "operation": operation, "attempt": attempt, "worker_id": worker_id}


def enter_job(fields: Mapping[str, object]) -> None:
    """Mark the current context as running this job's attempt: for a context made for the
    attempt's task (`contextvars.copy_context().run(enter_job, ...)`)."""
    _job.set(dict(fields))


@contextmanager
def about_job(fields: Mapping[str, object]) -> Iterator[None]:
    """Every line logged inside the block (in this task or thread) is about this job."""
    token = _job.set(dict(fields))
    try:
        yield
    finally:
        _job.reset(token)


class JobFields(logging.Filter):
    """Adds the current attempt's job fields to each record that lacks them."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _job.get()
        if fields:
            for key, value in fields.items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        return True


class AccessFields(logging.Filter):
    """uvicorn's access lines, also as fields: its record's args are (client, method,
    path, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, version, status = args
            record.client_addr, record.method, record.path = client, method, path
            record.http_version, record.status_code = version, status
        return True


def log_format(value: str | None, stream: IO[str] | None = None) -> str:
    """The format to use: `value` (LRO_LOG_FORMAT) when set, else text on a terminal and
    json otherwise. ValueError for anything but json or text."""
    if value:
        chosen = value.strip().lower()
        if chosen not in FORMATS:
            raise ValueError(f"LRO_LOG_FORMAT must be json or text, not {value!r}")
        return chosen
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="ts",
        json_ensure_ascii=False,
        # uvicorn's `color_message` repeats the message with terminal colour codes.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


_configured: dict[str, str] = {}


def configure(level: str, fmt: str, stream: IO[str] | None = None) -> None:
    """Send every log line of the process to `stream` (stderr) in `fmt`, at `level`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(JobFields())
    handler.addFilter(AccessFields())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    if fmt == "json":
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
    _configured["format"] = fmt


def configured_format() -> str | None:
    """The format `configure` set up in this process, if it ran."""
    return _configured.get("format")


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    logging.getLogger("lro").critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: Any) -> None:
    if args.exc_type is SystemExit:
        return
    logging.getLogger("lro").critical(
        "uncaught exception in thread %s",
        getattr(args.thread, "name", "?"),
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
