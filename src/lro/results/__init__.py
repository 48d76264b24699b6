"""Result files (reports, exports, videos): where handlers write them, where they are kept
and how the API serves them. `LRO_RESULT_STORE` chooses the store (HTTP-CONTRACT §20):

    file            a local directory, LRO_RESULT_DIR (the default on SQLite)
    file:///dir     a local directory named in the spec
    db              the job store itself, in chunks (the default on PostgreSQL)
    s3://bucket/p   an S3-compatible object store (the `lro[s3]` extra)

Every store keeps each attempt's objects under names of its own, and the job points at
the object its fenced completion recorded, which is what keeps a zombie worker's bytes out
of the result (see lro.results.base).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lro.results.base import (
    File,
    ResultBody,
    ResultMissing,
    ResultRedirect,
    ResultStore,
)
from lro.results.db import DbResultStore
from lro.results.local import LocalResultStore

if TYPE_CHECKING:
    from lro.config import Settings
    from lro.store.base import Store


def open_result_store(spec: str | None, store: Store, settings: Settings) -> ResultStore:
    """Build the result store `spec` names (see the module docstring); without one, `file`
    when the job store is a local file (SQLite) and `db` when it is a server, so API and
    worker processes on machines that share no disk work out of the box."""
    spec = (spec or "").strip() or ("file" if store.embedded else "db")
    if spec == "file":
        return LocalResultStore(settings.result_dir)
    if spec.startswith("file://"):
        path = spec[len("file://") :]
        if not path:
            raise ValueError(f"result store {spec!r} names no directory: use file:///path")
        return LocalResultStore(path)
    if spec == "db":
        return DbResultStore(store, settings.result_dir)
    if spec.startswith("s3://"):
        from lro.results.s3 import S3ResultStore

        return S3ResultStore.from_url(spec, settings.result_dir)
    raise ValueError(
        f"unsupported result store {spec!r}: use file, file:///path, db or s3://bucket/prefix"
    )


__all__ = [
    "DbResultStore",
    "File",
    "LocalResultStore",
    "ResultBody",
    "ResultMissing",
    "ResultRedirect",
    "ResultStore",
    "open_result_store",
]
