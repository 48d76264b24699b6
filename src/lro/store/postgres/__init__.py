"""The PostgreSQL backend package (the layout every backend follows: lro/store/README.md).

store.py       PostgresStore: composes the parts, owns their lifecycle
jobs.py        the job verbs of the Store protocol;  insert.py  submits (idempotency)
handoff.py     direct hand-off of a submit to a parked worker
outbox.py      webhook deliveries     quotas.py   token buckets     blobs.py   results
listen.py      the LISTEN session: other processes' changes, hand-off notifications
connection.py  the pool and its calls: with_conn, tx, read/fetch, retries, errors
rows.py        records <-> models (jobs, events, NOTIFY payloads, cursors)
schema.py      migrations; schema.sql: the migrated schema
sql/*.sql      the named queries (`:name` parameters);  migrations/NNNN_name.sql
"""

from __future__ import annotations

from lro.store.postgres.schema import LATEST_VERSION, MIGRATIONS, migrate_connection
from lro.store.postgres.store import PostgresStore

__all__ = ["LATEST_VERSION", "MIGRATIONS", "PostgresStore", "migrate_connection"]
