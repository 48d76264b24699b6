"""The Redis backend: every lro job is a BullMQ job (HTTP-CONTRACT §19).

`RedisStore` composes the package's parts and owns their lifecycle: the connection
layer (`connection.Connection`: clients, scripts, listeners), the feed (`feed.Feed`:
other processes' changes and plain BullMQ workers' events), the job verbs
(`jobs.RedisJobs`, which it extends), and the outbox, quotas, blobs, the worker
registry and the long-jobs part (`steps.RedisSteps`). There is no
schema to migrate: the record layout is rows.py and lua/common.lua.
"""

from __future__ import annotations

from collections.abc import Callable

from lro.errors import StoreUnavailable
from lro.store.redis.blobs import RedisBlobs
from lro.store.redis.connection import Connection
from lro.store.redis.feed import Feed
from lro.store.redis.handoff import RedisHandoffs
from lro.store.redis.jobs import RedisJobs
from lro.store.redis.outbox import RedisOutbox
from lro.store.redis.quotas import RedisQuotas
from lro.store.redis.steps import RedisSteps
from lro.store.redis.workers import RedisWorkers
from lro.store.types import Listener

LAYOUT_VERSION = 1
"""The version of the record layout (no migrations yet: there is one layout)."""


class RedisStore(RedisJobs):
    """The Store protocol on Redis and BullMQ's data structures."""

    supports_listen = True
    embedded = False
    supports_flows = False
    """Tags, metadata, dependencies, batches and schedules (HTTP-CONTRACT §15-§17) are not
    on Redis yet: a submit that uses them answers a 501 problem."""
    workload: None = None
    batches: None = None
    schedules: None = None
    """The parts of HTTP-CONTRACT §13 (limits), §16 (schedules) and §17 (batches) are not
    on Redis yet: the SQL backends have them, and lro reads None as "none here" (refused
    at start-up or a 501 problem). Long jobs (§14) are here: `steps`."""

    def __init__(self, url: str) -> None:
        self.conn = Connection(url)
        super().__init__(self.conn)
        self.feed = Feed(self.conn)
        self.outbox = RedisOutbox(self.conn)
        self.quotas = RedisQuotas(self.conn)
        self.blobs = RedisBlobs(self.conn)
        self.workers = RedisWorkers(self.conn)
        self.handoffs = RedisHandoffs(self.conn, self)
        self.steps = RedisSteps(self.conn)

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        return cls(url)

    async def open(self) -> None:
        if self.conn.opened and not self.conn.closed:
            return
        await self.conn.open()
        try:
            await self.migrate()
            await self.feed.open()
        except BaseException:
            await self.conn.close()
            raise

    async def close(self) -> None:
        if self.conn.closed:
            return
        await self.handoffs.close()
        await self.feed.close()
        self.conn.closed = True
        await self.conn.close()

    async def migrate(self) -> int:
        """Record the layout version; refuse a database written by a newer layout."""
        from lro.errors import SchemaTooNew

        conn = self.conn
        conn._check()
        key = conn.key("layout_version")
        with conn.errors():
            await conn.client.setnx(key, LAYOUT_VERSION)
            stored = int(await conn.client.get(key) or LAYOUT_VERSION)
        if stored > LAYOUT_VERSION:
            raise SchemaTooNew(
                f"this Redis database holds lro layout {stored}; this lro knows {LAYOUT_VERSION}"
            )
        return stored

    async def ping(self) -> None:
        self.conn._check()
        with self.conn.errors():
            if not await self.conn.client.ping():
                raise StoreUnavailable("Redis did not answer PING")

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        return self.conn.listeners.add(listener)
