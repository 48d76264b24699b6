"""From `APP` and the flags to an LRO that is ready to serve: import the operator's module
(the current directory first on `sys.path`, as uvicorn does), lay the flags over the
LRO_* settings, and reach and migrate the store once before anything starts, so each
mistake an operator can fix (a bad APP path, a bad or unreachable store URL, a database
migrated by a newer lro) is one line (`CLIError`) rather than a traceback.

The server side is imported inside these functions, so `lro --help` never pays for it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from lro.cli import CLIError
from lro.errors import SchemaTooNew, StoreUnavailable

if TYPE_CHECKING:
    from lro.app import LRO
    from lro.store import Store

DEFAULT_APP = "lro.demo:lro"


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
    if getattr(args, "queues", None) is not None:
        update["queues"] = args.queues
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
