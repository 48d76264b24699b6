"""`lro serve`, `lro worker` and `lro migrate`: the server side of the command line.

    lro serve   [APP] [--host 127.0.0.1] [--port 8000] [--store URL] [--concurrency N] [--no-worker]
    lro worker  [APP] [--store URL] [--concurrency N] [--queues a,b]
    lro migrate [APP] [--store URL]

`APP` is `module:attribute` naming an `LRO` object (see `lro.cli.loading`); without it,
the bundled demo (`lro.demo:lro`). Settings come from the LRO_* environment through
`lro.Settings`; flags win. uvicorn, the store and the worker are imported by the command
that runs, so defining these commands' arguments costs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
from typing import TYPE_CHECKING

from lro import tracing
from lro.cli import CLIError
from lro.cli.loading import DEFAULT_APP, configure, load_app, preflight, redact
from lro.cli.parser import CommandParser
from lro.errors import SchemaTooNew, StoreUnavailable, Unsupported

if TYPE_CHECKING:
    from lro.app import LRO

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

log = logging.getLogger("lro.cli")


# -- commands -------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    app = configure(load_app(args.app), args)
    preflight(app)
    embedded = not args.no_worker
    log.info(
        "serving %s on http://%s:%d (store %s, %s)",
        args.app,
        args.host,
        args.port,
        redact(app.settings.store_url),
        f"embedded worker x{app.settings.concurrency}" if embedded else "no worker",
    )
    asgi = app.create_app(embedded_worker=embedded)
    # uvicorn re-raises a captured SIGTERM once it has shut down, with whatever handler was
    # installed before it: with the default one the process would end "killed by SIGTERM"
    # even after a clean drain. A no-op handler makes that a normal exit (status 0), as
    # `lro worker` does; SIGINT keeps Python's KeyboardInterrupt (status 130).
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    # uvicorn turns SIGTERM/SIGINT into a graceful shutdown: it stops accepting, lets open
    # requests finish, then runs the lifespan exit, which drains the embedded worker within
    # settings.shutdown_grace_seconds. Long polls and SSE streams are cut after that margin.
    from lro.http_server import protocol_class

    uvicorn.run(
        asgi,
        host=args.host,
        port=args.port,
        http=protocol_class(app.settings.headers_timeout_seconds),
        log_level=args.log_level,
        access_log=args.access_log,
        timeout_graceful_shutdown=math.ceil(app.settings.shutdown_grace_seconds) + 5,
        lifespan="on",
        # No logging config of uvicorn's own: its error and access loggers propagate to
        # the one handler lro.logs set up, so they come out in LRO_LOG_FORMAT too.
        log_config=None,
    )
    return 0


async def _run_worker(app: LRO, concurrency: int) -> None:
    try:
        await app.start()
    except (StoreUnavailable, SchemaTooNew, Unsupported, OSError) as exc:
        raise CLIError(f"cannot use the store {redact(app.settings.store_url)}: {exc}") from None
    try:
        try:
            worker = app.worker(concurrency)
        except ValueError as exc:  # a queue no operation uses
            raise CLIError(str(exc)) from None
        await worker.run_until_stopped()
    finally:
        await app.stop()


def cmd_worker(args: argparse.Namespace) -> int:
    app = configure(load_app(args.app), args)
    log.info(
        "worker for %s: %d slots, store %s, operations: %s",
        args.app,
        app.settings.concurrency,
        redact(app.settings.store_url),
        ", ".join(sorted(app.operations)) or "(none)",
    )
    if args.metrics_port is not None:
        serve_worker_metrics(app, args.metrics_host, args.metrics_port)
    tracing.configure()  # the API process does it in create_app
    asyncio.run(_run_worker(app, app.settings.concurrency))
    return 0


def serve_worker_metrics(app: LRO, host: str, port: int) -> None:
    """A worker process has no HTTP API: its metrics get a small server of their own (a
    thread, prometheus_client's). It reports what this process did; the store's figures
    come from the API processes' /metrics."""
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=host, registry=app.metrics.registry)
    except OSError as exc:
        raise CLIError(f"cannot serve metrics on {host}:{port}: {exc}") from None
    log.info("metrics at http://%s:%d/metrics", host, port)


def cmd_migrate(args: argparse.Namespace) -> int:
    app = configure(load_app(args.app), args)
    version = preflight(app)
    print(f"{redact(app.settings.store_url)}: schema version {version}")
    return 0


# -- arguments -------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("must be between 1 and 10000")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("must be zero or more seconds")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "app",
        nargs="?",
        default=DEFAULT_APP,
        metavar="APP",
        help=f"module:attribute naming an LRO object (default: {DEFAULT_APP})",
    )
    p.add_argument(
        "--store",
        metavar="URL",
        help="sqlite:///path/lro.db or postgresql://... (env LRO_STORE_URL)",
    )
    p.add_argument("--log-level", choices=LOG_LEVELS, default="info")


def _worker_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="job slots per worker process (env LRO_CONCURRENCY, default 10)",
    )
    p.add_argument(
        "--grace",
        type=_seconds,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, let running jobs finish this long before handing them "
        "back to the queue (env LRO_SHUTDOWN_GRACE_SECONDS, default 10)",
    )


def serve(p: CommandParser) -> None:
    _common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    _worker_options(p)
    p.add_argument(
        "--no-worker",
        action="store_true",
        help="API only; run `lro worker` processes separately",
    )
    p.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log every HTTP request (default: on)",
    )
    p.set_defaults(func=cmd_serve)


def worker(p: CommandParser) -> None:
    _common(p)
    _worker_options(p)
    p.add_argument(
        "--queues",
        metavar="A,B",
        help="serve only these queues' operations, comma-separated (env LRO_QUEUES; "
        "default: every queue of the app)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve this worker's Prometheus metrics at http://HOST:PORT/metrics (default: off)",
    )
    p.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address for --metrics-port (default 127.0.0.1; it has no auth)",
    )
    p.set_defaults(func=cmd_worker)


def migrate(p: CommandParser) -> None:
    _common(p)
    p.set_defaults(func=cmd_migrate)
