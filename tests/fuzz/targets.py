"""The fuzzed apps: the API test app (tests/api/helpers.py) with jobs seeded in every state.

schemathesis reaches an app in-process through its ASGI transport, which runs the app's
lifespan on an event-loop thread of its own; the seeding runs before, on a loop of its own.
Every operation on one job gets its own group of seeded jobs, so one operation's cancels
and deletes never change what another operation sees; the test points generated cases at
them (`aim` in test_openapi_fuzz.py).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from tests.api.helpers import claim, complete, fail, lease, make_lro, progress

from lro import LRO
from lro.models import utcnow
from lro.submission import SubmitRequest, submit_jobs

SEED_PRIORITY = 2**40
"""Above any priority a client can submit (the API caps it at 2**31 - 1), so the seeding's
own claims always take the job it just inserted, whatever the fuzzer queued meanwhile."""

CALLBACK = "http://127.0.0.1:9/hook"
"""A closed loopback port: deliveries fail at once and are retried later (never, here)."""


@dataclass
class Group:
    """The seeded jobs of one operation: state name -> job id (and delivery ids)."""

    jobs: dict[str, str] = field(default_factory=dict)
    deliveries: list[str] = field(default_factory=list)


@dataclass
class Seeds:
    groups: dict[str, Group] = field(default_factory=dict)


async def _submit(lro: LRO, owner: str, **kw: Any) -> str:
    req = SubmitRequest(operation="echo", params={"text": "fuzz"}, owner=owner, **kw)
    [inserted] = await submit_jobs(lro, [req])
    return inserted.job.id


async def _claimed(lro: LRO, owner: str, **kw: Any) -> Any:
    job_id = await _submit(lro, owner, priority=SEED_PRIORITY, **kw)
    job = await claim(lro)
    assert job.id == job_id, "seeding claimed another job"
    return job


async def seed_group(lro: LRO, owner: str, stranger: str | None) -> Group:
    """One job in every state the API distinguishes, owned by `owner` (and one of
    `stranger`'s, which `owner` must not see)."""
    group = Group()
    jobs = group.jobs
    jobs["queued"] = await _submit(lro, owner)
    running = await _claimed(lro, owner)
    await progress(lro, running, 40, "halfway")
    jobs["processing"] = running.id
    done = await _claimed(lro, owner)
    jobs["completed"] = (await complete(lro, done, {"text": "fuzz"})).id
    artifact = await _claimed(lro, owner)
    ref = await lro.result_store.put_bytes(
        lease(artifact), b"n,square\n1,1\n2,4\n3,9\n", "text/csv", "report.csv"
    )
    jobs["artifact"] = (await complete(lro, artifact, None, result_ref=ref)).id
    jobs["failed"] = (await fail(lro, await _claimed(lro, owner))).id
    cancelled = await _submit(lro, owner)
    await lro.store.request_cancel(cancelled, utcnow(), 3600)
    jobs["cancelled"] = cancelled
    # Retention so short that the job is expired (410) by the time anyone asks.
    jobs["expired"] = (await complete(lro, await _claimed(lro, owner), 1, retention=1e-6)).id
    hooked = await _claimed(lro, owner, callback_url=CALLBACK)
    jobs["delivered"] = (await complete(lro, hooked, {"text": "fuzz"})).id
    group.deliveries = [d.id for d in await lro.store.outbox.list_deliveries(hooked.id)]
    if stranger is not None:
        jobs["stranger"] = await _submit(lro, stranger)
    return group


def job_operations(app: FastAPI) -> list[str]:
    """schemathesis' labels ("GET /api/v1/jobs/{job_id}") of the operations on one job."""
    return [
        f"{method.upper()} {path}"
        for path, methods in app.openapi()["paths"].items()
        if "{job_id}" in path
        for method in methods
    ]


class Target:
    """One fuzzed app, on one SQLite store for the whole module.

    It exists when the test module is imported (schemathesis parametrizes the tests from
    its OpenAPI document at collection), but its store directory is made and seeded only
    by `open()`, from a module fixture, and removed by `close()`.

    schemathesis ends the app's lifespan after every test and starts it again for the
    next, and an LRO's store cannot be opened again once closed, so each lifespan gets
    an LRO of its own: `app` is an ASGI app that builds a new one (on the same store) for
    every lifespan.
    """

    def __init__(self, name: str, owner: str = "", stranger: str | None = None, **settings: Any):
        self.dir = Path(tempfile.gettempdir()) / f"lro-fuzz-{name}-{uuid.uuid4().hex[:12]}"
        # `?wait` and `Prefer: wait` hold a request at most this long.
        self.settings = {"max_wait_seconds": 0.1, **settings}
        self.owner = owner
        self.stranger = stranger
        self.seeds = Seeds()
        self.current = self.new_lro().create_app()

    def new_lro(self) -> LRO:
        return make_lro(self.dir, **self.settings)

    def openapi(self) -> dict[str, Any]:
        return self.current.openapi()

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self.current = self.new_lro().create_app()
        await self.current(scope, receive, send)

    def open(self) -> None:
        """Seed the store, on a loop and an LRO of its own."""
        self.dir.mkdir(parents=True)

        async def seed() -> None:
            lro = self.new_lro()
            async with lro.running():
                for label in job_operations(self.current):
                    self.seeds.groups[label] = await seed_group(lro, self.owner, self.stranger)

        asyncio.run(seed())

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def digest(value: object) -> int:
    """A stable hash (str hashes are salted per process, and a repr may hold an address):
    the same generated case makes the same picks in every run."""
    text = json.dumps(value, default=lambda o: type(o).__name__, ensure_ascii=True)
    return zlib.crc32(text.encode())
