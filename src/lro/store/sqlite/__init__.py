"""The SQLite backend package (the layout every backend follows: lro/store/README.md).

store.py       SQLiteStore: composes the parts, owns their lifecycle
jobs.py        the job verbs of the Store protocol
outbox.py      webhook deliveries     quotas.py   token buckets     blobs.py   results
poll.py        other processes' changes, by tailing the events table
connection.py  the writer/reader threads and their transactions: write(fn), read(fn)
rows.py        rows <-> models (times as integer microseconds, JSON, cursors)
schema.py      connections and migrations; schema.sql: the migrated schema
sql/*.sql      the named queries;  migrations/NNNN_name.sql
"""

from __future__ import annotations

from lro.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
