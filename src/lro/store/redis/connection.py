"""The connection layer of the Redis backend: the only module that holds Redis clients.

It owns one client for text (every job verb) and one for bytes (result chunks), the
scripts (lro's, from lua/, each behind the common prelude; and BullMQ's own add scripts,
loaded from the installed `bullmq` package, never copied), the listeners, and the
mapping of Redis errors to `StoreUnavailable`. Parts call `run` (one script, atomic:
that is the transaction) and `transaction` (WATCH / MULTI, where a decision has to be
made in Python between a read and a write, as for idempotency).
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from lro.errors import StoreUnavailable
from lro.models import CLOCK_TOLERANCE, clock_correction, correct_clock
from lro.store.changes import Listeners
from lro.store.redis.rows import changes_of
from lro.store.types import JobChange

_log = logging.getLogger("lro.store.redis")

_LUA = resources.files("lro.store.redis") / "lua"

BULLMQ_ADD_SCRIPTS = ("addStandardJob", "addDelayedJob", "addPrioritizedJob")


def _bullmq_script_text(name: str) -> str:
    """BullMQ's own script `name`, as the installed `bullmq` package ships it."""
    from bullmq.redis_connection import SCRIPT_DEFINITIONS, loadScript

    text: str = loadScript(SCRIPT_DEFINITIONS[name])
    return text


def client_options() -> dict[str, Any]:
    """A command that meets a dropped connection (a pooled one Redis or a proxy closed
    meanwhile, a failover) is sent again on a fresh one, twice at most, after a short
    pause; longer outages surface as StoreUnavailable (503). Sending again is safe for
    lro's scripts: the fenced ones check their fence, inserts skip jobs already stored,
    BullMQ's add scripts skip a job id they have; a claim whose answer was lost leaves
    its jobs leased to nobody until the rescuer takes them back at lease expiry."""
    return {
        "retry": Retry(ExponentialBackoff(cap=0.25, base=0.02), 2),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "health_check_interval": 10,
    }


class Settings:
    """What a `redis://` / `rediss://` URL says: the server, the database number, and the
    key prefixes (`?prefix=` BullMQ's, default `bull`; `?lro_prefix=` lro's, default
    `lro`). There is no `?queue=`: a job goes to the BullMQ queue named by its
    operation's `queue` (HTTP-CONTRACT §19), so one store serves every queue; a URL that
    still says `?queue=` is refused rather than silently ignored."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"not a Redis URL: {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.bull_prefix = query.pop("prefix", "bull")
        self.lro_prefix = query.pop("lro_prefix", "lro") + ":"
        if "queue" in query:
            raise ValueError(
                "the Redis store URL takes no ?queue= any more: a job goes to the BullMQ "
                "queue named by its operation's queue (@lro.operation(queue=...), "
                "default 'default')"
            )
        retention = query.pop("retention_seconds", None)
        self.retention_seconds = None if retention is None else float(retention)
        rest = "&".join(f"{k}={v}" for k, v in query.items())
        self.url = parts._replace(query=rest).geturl()


class Connection:
    def __init__(self, url: str) -> None:
        self.settings = Settings(url)
        self.origin = uuid.uuid4().hex
        """This store's id on the change feed: its own lines are skipped when read back,
        since its listeners heard of them after the script."""
        self.listeners = Listeners()
        # Typed Any: redis-py types every reply `bytes | str` whatever decode_responses
        # says; this client's replies are str, the binary one's bytes.
        self.client: Any = aioredis.from_url(
            self.settings.url, decode_responses=True, **client_options()
        )
        self.binary: Any = aioredis.from_url(
            self.settings.url, decode_responses=False, **client_options()
        )
        self._scripts: dict[str, AsyncScript] = {}
        self._prelude = (_LUA / "common.lua").read_text()
        self.bullmq: dict[str, AsyncScript] = {
            name: self.client.register_script(_bullmq_script_text(name))
            for name in BULLMQ_ADD_SCRIPTS
        }
        self.opened = False
        self.closed = False
        self.handoff_sink: Callable[[str, str, Sequence[str]], None] | None = None
        """Where the feed sends a hand-off line (worker id, the origin of the process it
        parked in, row): the hand-off part."""
        self.reconnect_sink: Callable[[], None] | None = None
        """Called when the feed reads again after losing its connection."""

    def key(self, name: str) -> str:
        return self.settings.lro_prefix + name

    def bull_key(self, queue: str, name: str) -> str:
        return f"{self.settings.bull_prefix}:{queue}:{name}"

    def _script(self, name: str, binary: bool = False) -> AsyncScript:
        cache_key = f"{name}:{binary}"
        script = self._scripts.get(cache_key)
        if script is None:
            text = self._prelude + "\n" + (_LUA / f"{name}.lua").read_text()
            script = (self.binary if binary else self.client).register_script(text)
            self._scripts[cache_key] = script
        return script

    def script_args(self, args: Any, *extra: Any) -> list[Any]:
        s = self.settings
        return [s.lro_prefix, self.origin, s.bull_prefix, json.dumps(args), *extra]

    def _check(self) -> None:
        if self.closed:
            raise StoreUnavailable("the store is closed")

    async def run(self, name: str, args: Any, *extra: Any, binary: bool = False) -> Any:
        """Run lro script `name` with `args` (as JSON in ARGV[4]; `extra` after it)."""
        self._check()
        with self.errors():
            return await self._script(name, binary)(args=self.script_args(args, *extra))

    def queue_script(self, pipe: Pipeline, name: str, args: Any) -> None:
        """Queue lro script `name` on a MULTI by its SHA alone (no SCRIPT EXISTS round
        trip per transaction: `load_scripts` loaded it at open). A server that lost its
        script cache answers NOSCRIPT; the caller loads them again and retries, which
        the scripts queued this way allow (insert.lua skips a job already stored)."""
        pipe.evalsha(self._script(name).sha, 0, *self.script_args(args))

    def queue_bullmq(self, pipe: Pipeline, name: str, keys: Sequence[str], argv: Any) -> None:
        """Queue BullMQ's own script `name` on a MULTI by its SHA (as `queue_script`;
        BullMQ's add scripts answer an existing job id with that id, changing nothing)."""
        pipe.evalsha(self.bullmq[name].sha, len(keys), *keys, *argv)

    async def load_scripts(self) -> None:
        """Load the scripts queued inside transactions into the server's cache."""
        for script in (self._script("insert"), *self.bullmq.values()):
            sha = await self.client.script_load(script.script)
            assert sha == script.sha

    @contextlib.contextmanager
    def errors(self) -> Any:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis is not reachable: {exc}") from exc

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Pipeline]:
        """A pipeline for WATCH ... MULTI ... EXEC (redis-py's WatchError means retry)."""
        self._check()
        with self.errors():
            async with self.client.pipeline(transaction=True) as pipe:
                yield pipe

    def dispatch(self, raw: Sequence[Sequence[str]] | None) -> list[JobChange]:
        changes = changes_of(raw or [])
        self.listeners.dispatch(changes)
        return changes

    async def open(self) -> None:
        with self.errors():
            await self.client.ping()
            await self.sync_clock()
            await self.load_scripts()
        self.opened = True

    async def sync_clock(self) -> timedelta:
        """Keep Redis's time in this process (lro.models.correct_clock), as the PostgreSQL
        store keeps the database's: leases, retries and expiry are compared across
        processes, and BullMQ's locks expire on the server's clock. One TIME round trip,
        taken at its midpoint; a gap within the trip's uncertainty plus the tolerance
        is left alone."""
        before = datetime.now(UTC)
        seconds, micros = await self.client.time()
        after = datetime.now(UTC)
        server = datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=int(micros))
        half_trip = (after - before) / 2
        gap = server - (before + half_trip)
        shown = abs(gap) - half_trip
        previous = clock_correction()
        applied = correct_clock(gap if shown >= CLOCK_TOLERANCE else timedelta(0))
        if applied != previous and abs(applied - previous) >= CLOCK_TOLERANCE:
            _log.warning(
                "this process's clock is %.3f s %s Redis's: keeping Redis's time",
                abs(gap.total_seconds()),
                "behind" if gap > timedelta(0) else "ahead of",
            )
        return applied

    async def close(self) -> None:
        self.closed = True
        for client in (self.client, self.binary):
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()
