"""The Redis backend package: BullMQ's queues as lro's store (lro/store/README.md).

store.py       RedisStore: composes the parts, owns their lifecycle
jobs.py        the job verbs of the Store protocol
outbox.py      webhook deliveries     quotas.py   token buckets     blobs.py   results
feed.py        other processes' changes and plain BullMQ workers' events (one reader)
bull.py        BullMQ's side of a new job (its own add scripts' arguments)
connection.py  the clients, scripts, listeners and error mapping
rows.py        hashes <-> models (the record layout), cursors
lua/*.lua      the scripts; common.lua is the prelude of each (and the key layout)
"""

from __future__ import annotations

from lro.store.redis.store import RedisStore

__all__ = ["RedisStore"]
