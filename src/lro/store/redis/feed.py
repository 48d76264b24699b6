"""The cross-process feed of one Redis store: a single reader task per store (so, per
process) on one blocking connection, reading two kinds of Redis streams in one XREAD:

* `lro:changes`, where every lro script writes a line per committed change: lines of
  other processes go to this process's listeners (its own were dispatched after the
  script), so SSE streams, long polls and workers hear of every change;
* BullMQ's events stream of each queue lro has used (`bull:<queue>:events`, the one
  BullMQ's QueueEvents reads): events lro did not write itself (they carry `lro 1`) come
  from plain BullMQ workers, and the jobs they name are brought up to date by the sync
  script (lua/sync.lua), which writes the job's next lro event, its deliveries and a
  change line. Many processes do this at once safely: the script reads BullMQ's state,
  so the first one writes and the others find nothing to do.

Where BullMQ's stream has been read up to is kept in Redis (`lro:cursor:<queue>`), so
what plain workers did while no lro process was running is caught up at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from lro.errors import StoreUnavailable
from lro.models import utcnow
from lro.store.redis.connection import Connection
from lro.store.redis.rows import changes_of, delivery_id, us_text
from lro.store.redis.steps import partial_text

_log = logging.getLogger("lro.store.redis")

BLOCK_MS = 250
"""How long one XREAD waits; a queue first used meanwhile is read from the next one."""

DEFAULT_RETENTION = 604_800.0

_NOT_A_CHANGE = frozenset({"added", "removed", "duplicated", "deduplicated", "drained", "cleaned"})
"""BullMQ events that change nothing lro tracks ("added": lro's own insert wrote it)."""


def progress_hint(entry_id: str, fields: dict[str, str]) -> list[Any]:
    """A plain worker's `job.updateProgress(data)` as sync.lua takes it: [event id (fixed
    width, so ids compare as strings), pct, step, partial (JSON text), its size]. A
    number is a pct; an object may carry "pct", "step" and "partial" (HTTP-CONTRACT §19:
    {"partial": value} is a partial result); anything else moves nothing."""
    ms, _, seq = entry_id.partition("-")
    sid = f"{int(ms):016d}-{int(seq or 0):010d}"
    try:
        data = json.loads(fields.get("data", "null"))
    except ValueError:
        data = None
    pct: float | None = None
    step: str | None = None
    partial: list[Any] = [None, 0]
    if isinstance(data, int | float) and not isinstance(data, bool):
        pct = float(data)
    elif isinstance(data, dict):
        raw_pct = data.get("pct")
        if isinstance(raw_pct, int | float) and not isinstance(raw_pct, bool):
            pct = float(raw_pct)
        if isinstance(data.get("step"), str):
            step = data["step"]
        if "partial" in data:
            partial = partial_text(data["partial"])
    return [sid, pct, step, *partial]


class Feed:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._task: asyncio.Task[None] | None = None
        self._reader: Any = None  # a redis.asyncio.Redis (see Connection.client)
        self._ids: dict[str, str] = {}
        self._stopping = False
        self._cursor_saved = 0.0
        self.synced = 0
        """How many BullMQ events led to a sync (for tests and metrics)."""
        env = os.environ.get("LRO_RETENTION_SECONDS")
        configured = conn.settings.retention_seconds
        self.retention_seconds = (
            configured if configured is not None else float(env) if env else DEFAULT_RETENTION
        )
        """How long a job a plain BullMQ worker finished is kept (`?retention_seconds=`
        in the store URL, else LRO_RETENTION_SECONDS): lro's own verbs are told."""

    async def open(self) -> None:
        conn = self._conn
        self._reader = aioredis.from_url(conn.settings.url, decode_responses=True)  # no retries:
        # the loop below reconnects, and a blocked read must not be sent twice blindly
        with conn.errors():
            self._ids[conn.key("changes")] = await self._last_id(conn.key("changes"))
            for queue in await conn.client.smembers(conn.key("queues")):
                await self._add_queue(queue)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        self._stopping = True
        if self._task is not None:
            # The loop ends after its current XREAD (at most BLOCK_MS): a task cancelled
            # inside redis-py's blocking read can hang in its clean-up.
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 4 * BLOCK_MS / 1000)
            except (TimeoutError, Exception):
                self._task.cancel()
            self._task = None
        if self._reader is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._reader.aclose()
            self._reader = None

    async def _last_id(self, stream: str) -> str:
        last = await self._conn.client.xrevrange(stream, count=1)
        return str(last[0][0]) if last else "0-0"

    async def _add_queue(self, queue: str) -> None:
        conn = self._conn
        stream = conn.bull_key(queue, "events")
        cursor = await conn.client.get(conn.key(f"cursor:{queue}"))
        self._ids[stream] = cursor or await self._last_id(stream)

    async def _run(self) -> None:
        conn = self._conn
        changes_key = conn.key("changes")
        loop = asyncio.get_running_loop()
        next_look = 0.0
        lost = False
        while not self._stopping:
            try:
                if loop.time() >= next_look:
                    # Queues first used since the last look (a round trip: not every turn).
                    next_look = loop.time() + BLOCK_MS / 1000
                    await self._new_queues()
                assert self._reader is not None
                got = await self._reader.xread(dict(self._ids), count=500, block=BLOCK_MS)
                if lost:
                    lost = False
                    if conn.reconnect_sink is not None:
                        conn.reconnect_sink()
                for stream, entries in got or []:
                    if not entries or self._stopping:
                        continue
                    self._ids[stream] = entries[-1][0]
                    if stream == changes_key:
                        self._dispatch(entries)
                    else:
                        await self._sync(stream, entries)
            except (RedisError, OSError, StoreUnavailable) as exc:
                if conn.closed or self._stopping:
                    return
                _log.warning("lro's Redis feed lost its connection (%s); retrying", exc)
                lost = True
                await asyncio.sleep(0.5)
            except Exception:
                _log.exception("lro's Redis feed failed; retrying")
                await asyncio.sleep(0.5)

    async def _new_queues(self) -> None:
        conn = self._conn
        for queue in await conn.client.smembers(conn.key("queues")):
            stream = conn.bull_key(queue, "events")
            if stream not in self._ids:
                # A queue new since this process started: all of its stream counts.
                cursor = await conn.client.get(conn.key(f"cursor:{queue}"))
                self._ids[stream] = cursor or "0-0"

    def _dispatch(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        conn = self._conn
        origin = conn.origin
        lines = []
        for _, f in entries:
            worker = f.get("h")
            if worker is not None:
                # A hand-off (lro.store.redis.handoff), its submitter's own included: an
                # embedded worker is handed its jobs through here too.
                if conn.handoff_sink is not None:
                    conn.handoff_sink(worker, f.get("p", ""), json.loads(f["r"]))
            elif f.get("o") != origin:
                lines.append([f["j"], f["v"], f["s"], f["c"]])
        if lines and self._conn.listeners:
            self._conn.listeners.dispatch(changes_of(lines))

    async def _sync(self, stream: str, entries: list[tuple[str, dict[str, str]]]) -> None:
        ids: list[str] = []
        hints: dict[str, list[str]] = {}
        progress: dict[str, list[list[Any]]] = {}
        for entry_id, fields in entries:
            job_id = fields.get("jobId")
            event = fields.get("event")
            if fields.get("lro") == "1" or event in _NOT_A_CHANGE:
                continue
            if event == "waiting" and "prev" not in fields:  # a job just added
                continue
            if job_id and job_id not in ids:
                ids.append(job_id)
            if job_id and event == "progress":
                progress.setdefault(job_id, []).append(progress_hint(entry_id, fields))
            elif job_id and event == "completed":
                hints[job_id] = ["completed", fields.get("returnvalue", "null")]
            elif job_id and event == "failed":
                hints[job_id] = ["failed", fields.get("failedReason", "")]
        conn = self._conn
        if ids:
            now = utcnow()
            args: dict[str, Any] = {
                "ids": ids,
                "dids": [delivery_id() for _ in ids],
                "now": us_text(now),
                "expires_at": us_text(now + timedelta(seconds=self.retention_seconds)),
                "hints": hints or {"": ["", ""]},  # a JSON object even when empty
                "progress": progress or {"": []},
            }
            conn.dispatch(await conn.run("sync", args))
            self.synced += len(ids)
        elif not self._cursor_due():
            return  # only events to skip: the shared cursor may lag behind them
        queue = stream[len(conn.settings.bull_prefix) + 1 : -len(":events")]
        await conn.client.set(conn.key(f"cursor:{queue}"), entries[-1][0])
        self._cursor_saved = asyncio.get_running_loop().time()

    def _cursor_due(self) -> bool:
        return asyncio.get_running_loop().time() - self._cursor_saved >= 1.0
