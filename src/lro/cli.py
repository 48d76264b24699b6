"""The `lro` command (HTTP-CONTRACT §11): `serve`, `worker`, `migrate`.

    lro serve   [APP] [--host 127.0.0.1] [--port 8000] [--store URL] [--concurrency N] [--no-worker]
    lro worker  [APP] [--store URL] [--concurrency N]
    lro migrate [APP] [--store URL]

`APP` is `module:attribute` naming an `LRO` object, imported with the current directory on
`sys.path` (like uvicorn); without it, the bundled demo (`lro.demo:lro`). Settings come from
the LRO_* environment through `lro.Settings`; flags win. Mistakes an operator can fix (a
bad APP path, a bad or unreachable store URL, a database migrated by a newer lro) end with
a one-line message and exit status 1 or 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import math
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

from lro.cli_jobs import add_commands as add_job_commands
from lro.errors import SchemaTooNew, StoreUnavailable

if TYPE_CHECKING:
    # The server side loads only for serve/worker/migrate, so the job commands (a client
    # of a running server) start in a fraction of the time.
    from lro.app import LRO
    from lro.store import Store

DEFAULT_APP = "lro.demo:lro"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

log = logging.getLogger("lro.cli")


class CLIError(Exception):
    """A problem the operator can fix; printed as one line, exit status 1."""


# -- helpers -----------------------------------------------------------------------------
def redact(url: str) -> str:
    """The store URL with any password replaced, safe to print and log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def load_app(spec: str) -> LRO:
    """Import `module:attribute` (attribute defaults to `lro`) and check it is an LRO."""
    from lro.app import LRO

    module_name, _, attr = spec.partition(":")
    attr = attr or "lro"
    if not module_name or not all(part.isidentifier() for part in attr.split(".")):
        raise CLIError(f"APP {spec!r} must look like 'module:attribute', e.g. 'myapp:lro'")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise CLIError(
                f"cannot import module {module_name!r} for APP {spec!r} (looked in {cwd} "
                f"and the installed packages)"
            ) from None
        raise CLIError(f"importing {module_name!r} failed: {exc}") from exc
    except Exception as exc:
        raise CLIError(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc} "
            f"(run with --log-level debug for the traceback)"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(obj, LRO):
        raise CLIError(
            f"{spec!r} is a {type(obj).__name__}, not an lro.LRO object "
            f"(create one with `lro = LRO()` and name it as module:attribute)"
        )
    return obj


def configure(app: LRO, args: argparse.Namespace) -> LRO:
    """Apply the flags over the environment settings, before the store is first used (it
    is created lazily from `settings.store_url`), then check that the URL names a backend."""
    update: dict[str, Any] = {}
    if getattr(args, "store", None):
        update["store_url"] = args.store
    if getattr(args, "concurrency", None) is not None:
        update["concurrency"] = args.concurrency
    if getattr(args, "grace", None) is not None:
        update["shutdown_grace_seconds"] = args.grace
    if update:
        app.settings = app.settings.model_copy(update=update)
    try:
        app.store  # noqa: B018 - builds (does not connect) the backend chosen by the URL
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except ImportError as exc:
        raise CLIError(
            f"the store {redact(app.settings.store_url)} needs a backend that failed to "
            f"import: {exc}"
        ) from None
    try:
        app.result_store  # noqa: B018 - LRO_RESULT_STORE: a mistake is one line at start-up
    except (ValueError, RuntimeError) as exc:
        raise CLIError(str(exc)) from None
    return app


async def _open_and_migrate(url: str, poll_interval: float) -> int:
    """Open a throw-away store (applying migrations) and return its schema version."""
    from lro.store import open_store

    store: Store = open_store(url, poll_interval=poll_interval)
    try:
        await store.open()
        return await store.migrate()
    finally:
        await store.close()


def preflight(app: LRO) -> int:
    """Reach the store and migrate it once before serving, so an unreachable database or
    one written by a newer lro is a clear message at start-up, not a traceback from the
    server's lifespan. Uses its own store object: the app's opens on the server's loop."""
    url = app.settings.store_url
    try:
        return asyncio.run(_open_and_migrate(url, app.settings.poll_interval_seconds))
    except (StoreUnavailable, SchemaTooNew, OSError) as exc:
        raise CLIError(f"cannot use the store {redact(url)}: {exc}") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except Exception as exc:  # e.g. a file that is not a database: still one line
        raise CLIError(f"cannot use the store {redact(url)}: {type(exc).__name__}: {exc}") from exc


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # httpx logs every request at INFO; webhook attempts are logged by lro.webhooks.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


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
    uvicorn.run(
        asgi,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        timeout_graceful_shutdown=math.ceil(app.settings.shutdown_grace_seconds) + 5,
        lifespan="on",
    )
    return 0


async def _run_worker(app: LRO, concurrency: int) -> None:
    try:
        await app.start()
    except (StoreUnavailable, SchemaTooNew, OSError) as exc:
        raise CLIError(f"cannot use the store {redact(app.settings.store_url)}: {exc}") from None
    try:
        await app.worker(concurrency).run_until_stopped()
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


# -- parser ----------------------------------------------------------------------------------
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lro",
        description="Long-running operations: serve the HTTP API, run workers, migrate stores, "
        "and submit, follow and manage jobs on a running server.",
        epilog="Every setting can also come from LRO_* environment variables; flags win.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, *, app: bool = True) -> None:
        if app:
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

    def worker_opts(p: argparse.ArgumentParser) -> None:
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

    serve = sub.add_parser("serve", help="run the HTTP API (and, unless --no-worker, a worker)")
    common(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    worker_opts(serve)
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="API only; run `lro worker` processes separately",
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log every HTTP request (default: on)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run a worker process until SIGTERM/SIGINT")
    common(worker)
    worker_opts(worker)
    worker.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve this worker's Prometheus metrics at http://HOST:PORT/metrics (default: off)",
    )
    worker.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address for --metrics-port (default 127.0.0.1; it has no auth)",
    )
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply pending store migrations; print the version")
    common(migrate)
    migrate.set_defaults(func=cmd_migrate)
    add_job_commands(sub)  # submit, status, wait, jobs, cancel, result (lro.cli_jobs)
    return parser


def fail(message: str, status: int = 1) -> NoReturn:
    print(f"lro: error: {message}", file=sys.stderr)
    raise SystemExit(status)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        return int(args.func(args))
    except CLIError as exc:
        if args.log_level == "debug" and exc.__cause__ is not None:
            log.debug("details", exc_info=exc.__cause__)
        fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
