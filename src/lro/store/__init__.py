"""Store backends, chosen by URL scheme with lazy imports so optional drivers stay optional.

What a backend package consists of, and what it must implement: README.md beside this
file. The protocol (with every verb's writes) is `lro.store.base.Store`.
"""

from __future__ import annotations

from lro.store.base import Store
from lro.store.rules import worker_lost_error
from lro.store.types import (
    Batch,
    BatchInserted,
    BatchPage,
    BatchQuery,
    CancelOutcome,
    CancelResult,
    ClaimParams,
    DeleteResult,
    Firing,
    JobChange,
    JobCount,
    JobEvent,
    Listener,
    NewBatch,
    RescueParams,
    Schedule,
    SweepParams,
    WorkerInfo,
)


def open_store(url: str, *, poll_interval: float = 0.02) -> Store:
    """Build (not connect) the backend for `url`: `sqlite:///path`, `postgresql://...` or
    `redis://host:port/db` (`rediss://` for TLS; the `lro[redis]` extra)."""
    if url.startswith("sqlite://"):
        from lro.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(url, poll_interval=poll_interval)
    if url.startswith(("postgresql://", "postgres://")):
        from lro.store.postgres import PostgresStore

        return PostgresStore.from_url(url)
    if url.startswith(("redis://", "rediss://")):
        try:
            from lro.store.redis import RedisStore
        except ImportError as exc:  # the optional extra is not installed
            raise ValueError(
                f"the Redis store needs the redis extra: pip install 'lro[redis]' ({exc})"
            ) from None
        return RedisStore.from_url(url)
    raise ValueError(
        f"unsupported store URL {url!r}: use sqlite:///path/to/lro.db, postgresql://... "
        f"or redis://host:port/db"
    )


__all__ = [
    "Batch",
    "BatchInserted",
    "BatchPage",
    "BatchQuery",
    "CancelOutcome",
    "CancelResult",
    "ClaimParams",
    "DeleteResult",
    "Firing",
    "JobChange",
    "JobCount",
    "JobEvent",
    "Listener",
    "NewBatch",
    "RescueParams",
    "Schedule",
    "Store",
    "SweepParams",
    "WorkerInfo",
    "open_store",
    "worker_lost_error",
]
