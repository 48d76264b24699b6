"""lro: long-running operations for Python APIs.

Names are imported on first use (PEP 562), so `import lro.client` — what a user of an
lro-based service installs — does not load the server (FastAPI, the stores, the worker).
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
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
