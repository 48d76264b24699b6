"""`Harness`: the user's own `LRO`, run for one test on a store nobody else sees.

The LRO object is the user's, not a copy, so a handler that calls the module-level
`lro.submit(...)` reaches the test's store too. For the harness's life the object gets a
fresh SQLite database and result directory in a temporary directory, and a few settings
that make a test quick and repeatable; on exit it is stopped and handed back with its own
settings and result store, so the next test (or the real app) finds it as it was.

No worker runs unless asked: between `run_until_idle()` calls nothing moves, so a test
can look at a queued job without a race. `background_worker()` keeps one running for
the HTTP tests that need it (an operation's `respond_within`, `Prefer: wait`). The
webhook dispatcher runs throughout, towards the harness's own receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import tempfile
from base64 import b64encode
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from lro.config import Settings
from lro.models import Job, ListQuery, Status, utcnow
from lro.results import LocalResultStore
from lro.testing.receiver import HOST, WebhookReceiver

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from lro.app import LRO
    from lro.store import JobChange, JobEvent
    from lro.submission import SubmitRequest
    from lro.worker import Worker

DEFAULT_TIMEOUT = 10.0
"""Bound on every wait: a test that reaches it has hung, it has not merely run slowly."""

SHOWN_ACTIVE = 20
"""At most this many unfinished jobs are listed when the queue does not become idle."""


class NotIdle(TimeoutError):
    """`run_until_idle()` reached its bound with work left; `active` is what was left
    (queued and processing jobs, newest first), and the message lists it."""

    def __init__(self, timeout: float, active: Sequence[Job], now: datetime) -> None:
        self.active = list(active)
        lines = [_describe(job, now) for job in self.active[:SHOWN_ACTIVE]]
        if len(self.active) > SHOWN_ACTIVE:
            lines.append(f"... and more (showing the newest {SHOWN_ACTIVE})")
        if not lines:
            lines = ["no job is queued or processing: the worker's last writes did not settle"]
        super().__init__(
            f"the queue did not become idle within {timeout:g} s; still active:\n  "
            + "\n  ".join(lines)
        )


def _describe(job: Job, now: datetime) -> str:
    where = f"{job.progress_pct:g}%" + (f" {job.step!r}" if job.step else "")
    text = f"job {job.id} ({job.operation}) {job.status}, attempt {job.attempt} of "
    text += f"{job.max_attempts}, at {where}"
    if job.status is Status.QUEUED and job.run_at > now:
        text += f", due in {(job.run_at - now).total_seconds():.1f} s"
    if job.cancel_requested:
        text += ", cancel requested"
    return text


class Harness:
    """See the module docstring; made by `lro.testing.run(...)`."""

    def __init__(
        self,
        lro: LRO,
        *,
        path: str | PathLike[str] | None = None,
        concurrency: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
        settings: Mapping[str, Any] | None = None,
        asgi: ASGIApp | None = None,
    ) -> None:
        unknown = sorted(set(settings or {}) - set(Settings.model_fields))
        if unknown:
            raise TypeError(f"unknown lro settings: {', '.join(unknown)}")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.lro = lro
        self.concurrency = concurrency
        self.timeout = timeout
        self._parent = None if path is None else Path(path)
        self._overrides = dict(settings or {})
        self._asgi = asgi
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._override: contextlib.AbstractContextManager[LRO] | None = None
        self._started = False
        self._dispatching = False
        self._background: Worker | None = None
        self._client: httpx.AsyncClient | None = None
        self._results: LocalResultStore | None = None
        self.path = Path()
        """The directory of this run's database (`lro.db`) and result files (`results/`)."""
        self.webhooks = WebhookReceiver(timeout)
        """The loopback receiver: every webhook this run sent, in arrival order."""

    # -- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Harness:
        try:
            await self._open()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _open(self) -> None:
        if self._parent is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lro-testing-")
            self.path = Path(self._tmp.name)
        else:
            # A fresh directory below the caller's (pytest's tmp_path, say): never a
            # database left by an earlier run, and the files stay there to look at.
            self._parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix="lro-", dir=self._parent))
        database = self.path / "lro.db"
        self._results = LocalResultStore(self.path / "results")
        own = self.lro.settings
        update: dict[str, Any] = {
            "store_url": f"sqlite:///{database}",
            "result_dir": str(self.path / "results"),
            # Write every progress report that is not already superseded, so a test sees
            # them as events; and retry at once, so a retry runs within run_until_idle()
            # (an operation's own retry_base_seconds still holds).
            "progress_flush_seconds": 0.0,
            "retry_base_seconds": 0.0,
            "sweep_interval_seconds": 365 * 86_400.0,
            **self._overrides,
        }
        # The receiver listens on 127.0.0.1, which the SSRF guard refuses; the guard allows
        # by host, so this lets that host through and leaves every other private one out.
        hosts = update.get("webhook_allowed_hosts", own.webhook_allowed_hosts)
        update["webhook_allowed_hosts"] = ",".join(h for h in (hosts, HOST) if h.strip())
        # A secret of our own unless the LRO has one, so the test can verify signatures
        # without reading the one the dispatcher would otherwise keep in the store.
        update["webhook_secret"] = update.get("webhook_secret", own.webhook_secret)
        update["webhook_secret"] = update["webhook_secret"] or _new_secret()
        override = self.lro.overridden(own.model_copy(update=update), result_store=self._results)
        try:
            override.__enter__()
        except RuntimeError as exc:
            raise RuntimeError(
                f"lro.testing.run() needs an LRO whose store it can choose: {exc}"
            ) from None
        self._override = override
        self.webhooks.secret = _newest_secret(self.lro.settings.webhook_secret)
        await self.webhooks.start()
        await self.lro.start()
        self._started = True
        await self.lro.dispatcher().start()
        self._dispatching = True

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._background is not None:
            await self._background.stop(grace=0)
            self._background = None
        if self._dispatching:
            self._dispatching = False
            await self.lro.dispatcher().stop(grace=0)
        await self.webhooks.stop()
        if self._started:
            self._started = False
            await self.lro.stop()
        if self._override is not None:
            self._override.__exit__(None, None, None)
            self._override = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- submitting -----------------------------------------------------------------------
    async def submit(
        self,
        operation: str,
        params: Any = None,
        *,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
        priority: int = 0,
        delay: float | None = None,
        owner: str = "",
    ) -> Job:
        """`lro.submit(...)`: validated and queued as any submit, not run until asked."""
        return await self.lro.submit(
            operation,
            params,
            idempotency_key=idempotency_key,
            callback_url=callback_url,
            priority=priority,
            delay=delay,
            owner=owner,
        )

    async def submit_many(self, requests: Sequence[SubmitRequest]) -> list[Job]:
        return await self.lro.submit_many(requests)

    # -- running --------------------------------------------------------------------------
    async def run_until_idle(self, timeout: float | None = None) -> None:
        """Run the queue until nothing runnable is left: every job due now, the retries
        and the jobs their handlers submit. Jobs due later (`delay`, an operation's own
        retry backoff) stay queued. `NotIdle` after `timeout` seconds, listing the
        unfinished jobs; the handlers still running then are interrupted."""
        bound = self.timeout if timeout is None else timeout
        if self._background is not None:
            await self._wait_idle(self._background, bound)
            return
        worker = self.lro.worker(self.concurrency)
        await worker.start()
        try:
            await self._wait_idle(worker, bound)
        finally:
            await worker.stop(grace=0)

    async def _wait_idle(self, worker: Worker, bound: float) -> None:
        try:
            await worker.wait_idle(bound)
        except TimeoutError:
            now = utcnow()
            active = (Status.QUEUED, Status.PROCESSING)
            query = ListQuery(owner=None, statuses=active, limit=SHOWN_ACTIVE + 1)
            page = await self.lro.store.list_jobs(query, now)
            raise NotIdle(bound, page.items, now) from None

    @contextlib.asynccontextmanager
    async def background_worker(self) -> AsyncIterator[Worker]:
        """A worker running for the block, for tests that need jobs to run while they
        wait (an HTTP submit held by `respond_within`, `Prefer: wait`, a cancel of a
        running job). `run_until_idle()` inside the block waits for this worker."""
        if self._background is not None:
            raise RuntimeError("a background worker is already running")
        worker = self.lro.worker(self.concurrency)
        await worker.start()
        self._background = worker
        try:
            yield worker
        finally:
            if self._background is worker:
                self._background = None
                await worker.stop(grace=0)

    # -- looking ----------------------------------------------------------------------------
    async def job(self, job_id: str) -> Job:
        job = await self.lro.store.get_job(job_id)
        if job is None:
            raise LookupError(f"no job {job_id!r} in this run's store")
        return job

    async def jobs(
        self,
        *,
        status: str | Sequence[str] = (),
        operation: str | None = None,
        now: datetime | None = None,
    ) -> list[Job]:
        """Every job (all owners), newest first. `now` moves the clock the store judges
        expiry by: `jobs(now=utcnow() + timedelta(days=8))` leaves out the jobs that a
        week's retention would have expired by then."""
        statuses = tuple(Status(s) for s in ([status] if isinstance(status, str) else status))
        when = now or utcnow()
        found: list[Job] = []
        cursor: str | None = None
        while True:
            query = ListQuery(
                owner=None, statuses=statuses, operation=operation, limit=200, cursor=cursor
            )
            page = await self.lro.store.list_jobs(query, when)
            found.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return found

    async def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        """The job's event history after version `after`: one event per committed change
        (status, progress, partial, completed, failed, cancelled), oldest first."""
        return await self.lro.store.events_after(job_id, after)

    async def wait_for_job(
        self,
        job_id: str,
        until: Callable[[Job], bool] | None = None,
        *,
        timeout: float | None = None,
    ) -> Job:
        """The job once `until(job)` holds (default: it has ended), woken by the store's
        change notifications. For a job that runs meanwhile, in `background_worker()`."""
        check = until or (lambda job: job.is_terminal)
        bound = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        changed = asyncio.Event()

        def listener(change: JobChange) -> None:
            if change.job_id == job_id:
                changed.set()

        remove = self.lro.store.add_listener(listener)
        try:
            while True:
                changed.clear()  # before the read, so a change during it is not missed
                job = await self.job(job_id)
                if check(job):
                    return job
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(
                        f"job {job_id} did not get there within {bound:g} s; it is "
                        + _describe(job, utcnow())
                    )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await changed.wait()
        finally:
            remove()

    def result_path(self, job: Job) -> Path:
        """Where a completed job's result file is (a `File` or `bytes` result, or JSON
        too large to keep inline)."""
        if job.result_ref is None or self._results is None:
            raise ValueError(f"job {job.id} has no result file (status {job.status})")
        return self._results.local_path(job.result_ref)

    # -- HTTP -------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The settings the LRO runs with under the harness."""
        return self.lro.settings

    @property
    def webhook_secret(self) -> str:
        """What webhooks are signed with: the LRO's own LRO_WEBHOOK_SECRET (the newest, if
        it lists several), else one the harness made up."""
        return self.webhooks.secret

    @property
    def client(self) -> httpx.AsyncClient:
        """An httpx client on the app's ASGI app (`lro.create_app()`, or the `asgi` app
        given to `run`), in process: `await t.client.post("/api/v1/...", json=...)`. The
        app's lifespan does not run; the harness has started everything it starts."""
        if self._client is None:
            app = self._asgi if self._asgi is not None else self.lro.create_app()
            self._client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://lro.test"
            )
        return self._client


def _newest_secret(setting: str | None) -> str:
    """The first of the secrets in LRO_WEBHOOK_SECRET (newest first, comma- or
    space-separated): every message carries a signature made with it."""
    return re.split(r"[\s,]+", (setting or "").strip())[0]


def _new_secret() -> str:
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode("ascii")
