"""lro: long-running operations for Python APIs.

Names are imported on first use (PEP 562), so `import lro.client` — what a user of an
lro-based service installs — does not load the server (FastAPI, the stores, the worker).
`pip install lro` is that client alone; the server names (`LRO`, `Settings`, ...) need
`pip install 'lro[server]'`, and without it asking for one says so (lro.extras).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lro.app import LRO
    from lro.client import AsyncClient, Client
    from lro.config import Settings
    from lro.context import JobContext
    from lro.errors import JobCancelled, JobError, PermanentError
    from lro.models import TERMINAL, ErrorDetail, Job, Status
    from lro.results import File
    from lro.submission import SubmitRequest

_HOMES = {
    "LRO": "lro.app",
    "AsyncClient": "lro.client",
    "Client": "lro.client",
    "Settings": "lro.config",
    "JobContext": "lro.context",
    "JobCancelled": "lro.errors",
    "JobError": "lro.errors",
    "PermanentError": "lro.errors",
    "TERMINAL": "lro.models",
    "ErrorDetail": "lro.models",
    "Job": "lro.models",
    "Status": "lro.models",
    "File": "lro.results",
    "SubmitRequest": "lro.submission",
}

__all__ = [
    "LRO",
    "TERMINAL",
    "AsyncClient",
    "Client",
    "ErrorDetail",
    "File",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobError",
    "PermanentError",
    "Settings",
    "Status",
    "SubmitRequest",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lro' has no attribute {name!r}")
    try:
        module = importlib.import_module(home)
    except ModuleNotFoundError as exc:
        from lro.extras import missing_server_package, server_missing_message

        package = missing_server_package(exc)
        if package is None:
            raise
        raise ImportError(server_missing_message(f"lro.{name}", package), name=exc.name) from None
    value = getattr(module, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
