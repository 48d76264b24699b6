"""LRO: the composition root. Holds the operation registry and settings, and wires the
store, change hub, result store, HTTP router and workers together on demand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from lro.batches import BatchItem, BatchRequest, submit_batch
from lro.bulk import bulk_operations
from lro.config import Settings
from lro.errors import Unsupported
from lro.estimates import Estimator
from lro.events import ChangeHub
from lro.limits import DEFAULT_QUEUE, KeySource, Limits
from lro.metrics import Metrics
from lro.models import Job, utcnow
from lro.operations import Handler, Operation, make_operation
from lro.results import ResultStore, open_result_store
from lro.retry import RetryPolicy
from lro.scheduling import ScheduleSpec, build, same_plan, schedules_of
from lro.store import BatchInserted, Store, open_store
from lro.store.base import workload_of
from lro.submission import SubmitRequest, submit_jobs

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

    from lro.api import LroRouter
    from lro.webhooks.dispatcher import Dispatcher
    from lro.worker.maintenance import Maintenance
    from lro.worker.runner import Worker
    from lro.worker.scheduler import Scheduler

H = TypeVar("H", bound=Handler)


class LRO:
    """Register operations with `@lro.operation(...)`, mount `lro.router`, run workers.

    The store is opened lazily on first use (a request, a submit, a worker start), so
    `app.include_router(lro.router)` is all a FastAPI application needs.
    """

    def __init__(
        self,
        store: str | Store | None = None,
        *,
        settings: Settings | None = None,
        result_store: ResultStore | None = None,
    ) -> None:
        self.settings = settings or Settings()
        if isinstance(store, str):
            self.settings = self.settings.model_copy(update={"store_url": store})
        self._store: Store | None = None if store is None or isinstance(store, str) else store
        self._owns_store = self._store is None
        self._result_store: ResultStore | None = result_store
        self._owns_result_store = result_store is None
        self.operations: dict[str, Operation] = {}
        # lro's own: bulk cancel / retry are jobs, run by any worker of this app.
        self.operations.update((op.name, op) for op in bulk_operations(self))
        self.estimator = Estimator()
        self._hub: ChangeHub | None = None
        self._dispatcher: Dispatcher | None = None
        self._scheduler: Scheduler | None = None
        self._declared: dict[tuple[str, str], ScheduleSpec] = {}
        self._metrics: Metrics | None = None
        self._router: LroRouter | None = None
        self._operator_router: APIRouter | None = None
        self._started = False
        self._start_lock: asyncio.Lock | None = None

    # -- registry -----------------------------------------------------------------------
    def operation(
        self,
        name: str,
        *,
        route: str | None = None,
        estimated_duration: float | None = None,
        max_attempts: int = 3,
        timeout: float | None = None,
        retry_base_seconds: float | None = None,
        respond_within: float | None = None,
        queue: str = DEFAULT_QUEUE,
        concurrency: int | None = None,
        concurrency_key: KeySource | None = None,
        key_concurrency: int | None = None,
        rate_limit: tuple[int, float] | None = None,
        fair: bool = False,
        max_queued: int | None = None,
    ) -> Callable[[H], H]:
        """Register `handler(ctx)` or `handler(ctx, params: Model)` as operation `name`,
        optionally exposed at `POST {prefix}{route}`.

        `respond_within` (seconds; default LRO_RESPOND_WITHIN_SECONDS, itself 0) holds a
        submit that long for the job to finish, and answers 200 with the finished job
        when it does (HTTP-CONTRACT §21); 0 always answers 202 at once. Registering
        after `lro.router` was included is fine: the route is added where it is served.

        Workload control (HTTP-CONTRACT §13, docs/limits.md): `queue` (workers may serve
        only some queues), `concurrency` (running at once across all workers),
        `concurrency_key` (a params field or `callable(params, principal) -> str`) with
        `key_concurrency` (running at once per key), `rate_limit=(N, P)` (N starts per
        P seconds), `fair` (keys take turns), `max_queued` (503 beyond it). A store
        without the capability refuses them when the LRO starts.
        """
        limits = Limits(
            queue=queue,
            concurrency=concurrency,
            concurrency_key=concurrency_key,
            key_concurrency=key_concurrency,
            rate_limit=rate_limit,
            fair=fair,
            max_queued=max_queued,
        )

        def register(handler: H) -> H:
            if name in self.operations:
                raise ValueError(f"operation {name!r} is already registered")
            if route is not None and any(o.route == route for o in self.operations.values()):
                raise ValueError(f"route {route!r} is already used by another operation")
            self.operations[name] = make_operation(
                handler,
                name=name,
                route=route,
                estimated_duration=estimated_duration,
                max_attempts=max_attempts,
                timeout=timeout,
                retry_base_seconds=retry_base_seconds,
                respond_within=respond_within,
                limits=limits,
            )
            if self._router is not None:
                self._router.add_operation(self.operations[name])
            return handler

        return register

    # -- wiring -------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(
                self.settings.store_url, poll_interval=self.settings.poll_interval_seconds
            )
        return self._store

    @property
    def result_store(self) -> ResultStore:
        """Where result files live (LRO_RESULT_STORE; lro.results). Built on first use, as
        the store is, because the default depends on the store: `file` next to SQLite,
        `db` in a server database."""
        if self._result_store is None:
            self._result_store = open_result_store(
                self.settings.result_store, self.store, self.settings
            )
        return self._result_store

    @result_store.setter
    def result_store(self, value: ResultStore) -> None:
        self._result_store = value
        self._owns_result_store = False

    @property
    def metrics(self) -> Metrics:
        """This app's Prometheus metrics (lro.metrics); served at /metrics."""
        if self._metrics is None:
            self._metrics = Metrics()
        return self._metrics

    @property
    def retry_policy(self) -> RetryPolicy:
        """Backoff for failed attempts and lost leases, with each operation's own base."""
        per_operation = {
            op.name: op.retry_base_seconds
            for op in self.operations.values()
            if op.retry_base_seconds is not None
        }
        return RetryPolicy(
            self.settings.retry_base_seconds, self.settings.retry_max_seconds, per_operation
        )

    @property
    def hub(self) -> ChangeHub:
        if self._hub is None:
            self._hub = ChangeHub(self.store)
        return self._hub

    async def start(self) -> None:
        """Open the store (migrating it) and start the change hub. Idempotent."""
        if self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            await self.store.open()
            try:
                self._check_capabilities()
            except Unsupported:
                await self.store.close()
                raise
            self.hub.start()
            self._started = True
            if self._declared:
                try:
                    await self._declare_schedules()
                except BaseException:
                    await self.stop()
                    raise

    def _check_capabilities(self) -> None:
        """Refuse, at start-up, limits this store cannot enforce: a limit that silently
        does nothing is worse than none (HTTP-CONTRACT §13, §19)."""
        if workload_of(self.store) is not None:
            return
        refused = [
            f"{op.name}: {', '.join(op.limits.declared)}"
            for op in self.operations.values()
            if op.limits.declared
        ]
        if refused:
            raise Unsupported(
                f"the {type(self.store).__name__} store cannot enforce workload limits "
                f"(concurrency, concurrency_key, key_concurrency, rate_limit, fair, "
                f"max_queued); "
                f"remove them or use SQLite or PostgreSQL. Declared: " + "; ".join(refused)
            )

    async def stop(self) -> None:
        """Close the store. A store this LRO built from a URL is built afresh by the next
        `start()`, so an app can be started again, on another event loop too (one
        `asyncio.run` per test or script). A Store object passed in cannot be reopened."""
        if not self._started:
            return
        self._started = False
        self.hub.stop()
        await self.store.close()
        if self._owns_store:
            self._store = None
            if self._owns_result_store:
                self._result_store = None  # a `db` result store holds the old store
            self._hub = None
            self._dispatcher = None
            self._scheduler = None
            self._start_lock = None

    @property
    def router(self) -> LroRouter:
        """The HTTP API as a FastAPI router under settings.api_prefix. Complete by itself:
        `app.include_router(lro.router)` (with or without `prefix=`) answers every error
        as problem+json, HEAD, the body limit, and URLs that follow the prefix and any
        mount path."""
        if self._router is None:
            from lro.api import build_router

            self._router = build_router(self)
        return self._router

    @property
    def operator_router(self) -> APIRouter:
        """`/healthz`, `/readyz`, `/metrics` and `/dashboard`, for an app of your own:
        `app.include_router(lro.operator_router)`, with the prefix `lro.router` got."""
        if self._operator_router is None:
            from lro.api import build_operator_router

            self._operator_router = build_operator_router(self)
        return self._operator_router

    def create_app(self, *, embedded_worker: bool = False, **fastapi_kwargs: Any) -> FastAPI:
        """A ready FastAPI app: the router, problem+json errors, health routes, and a
        lifespan that opens the store and (optionally) runs a worker in-process."""
        from lro.serving import create_app

        return create_app(self, embedded_worker=embedded_worker, **fastapi_kwargs)

    def worker(self, concurrency: int | None = None, **options: Any) -> Worker:
        """A new Worker (not started) with `concurrency` slots (default: settings), and
        beside it what every worker process runs: the rescuer and retention sweeper, the
        webhook dispatcher (so a deployment whose API processes only accept work still
        delivers webhooks), its slots gauge and its entry in the worker registry.
        `options` go to `Worker` (e.g. `cancel_grace`)."""
        from lro.worker.registry import Registration
        from lro.worker.runner import Worker

        worker = Worker(self, concurrency or self.settings.concurrency, **options)
        worker.services += [
            self.maintenance(),
            self.dispatcher(),
            self.scheduler(),
            _SlotsGauge(self, worker),
        ]
        worker.services.append(Registration(self, worker))
        return worker

    def scheduler(self) -> Scheduler:
        """This process's scheduler (one per LRO, reference-counted like the dispatcher):
        every `lro serve` and `lro worker` process fires due schedules."""
        if self._scheduler is None:
            from lro.worker.scheduler import Scheduler

            self._scheduler = Scheduler(self)
        return self._scheduler

    def schedule(
        self,
        schedule_id: str,
        operation: str,
        params: Any = None,
        *,
        cron: str | None = None,
        interval_seconds: float | None = None,
        timezone: str = "UTC",
        overlap: str = "skip",
        paused: bool = False,
        tags: Sequence[str] | None = None,
        callback_url: str | None = None,
        owner: str = "",
    ) -> None:
        """Declare a schedule in code (HTTP-CONTRACT §16), e.g. `lro.schedule(
        "nightly-export", "exports.run", {"table": "orders"}, cron="0 3 * * *")`. It is
        created or updated when the LRO starts (left alone when unchanged, so a restart
        neither moves nor loses its next firing); an invalid one stops the start with
        its 422 problem, and so does a store without schedules."""
        self._declared[(owner, schedule_id)] = ScheduleSpec(
            operation=operation,
            params=params,
            schedule_id=schedule_id,
            cron=cron,
            interval_seconds=interval_seconds,
            timezone=timezone,
            overlap=overlap,
            paused=paused,
            tags=None if tags is None else list(tags),
            callback_url=callback_url,
        )

    async def _declare_schedules(self) -> None:
        part = schedules_of(self)
        now = utcnow()
        for (owner, schedule_id), spec in self._declared.items():
            existing = await part.get_schedule(owner, schedule_id)
            wanted = await build(self, spec, owner, now, existing)
            if existing is not None and same_plan(existing, wanted):
                continue
            await part.put_schedule(wanted, create=False)

    def maintenance(self) -> Maintenance:
        """The rescuer and retention sweeper (every Worker runs its own); call
        `rescue_once()` / `sweep_once()` directly from scripts and tests."""
        from lro.worker.maintenance import Maintenance

        return Maintenance(self)

    def dispatcher(self) -> Dispatcher:
        """This process's webhook dispatcher (one per LRO; `start()`/`stop()` are
        reference-counted, so an API and an embedded worker share it)."""
        if self._dispatcher is None:
            from lro.webhooks.dispatcher import Dispatcher

            self._dispatcher = Dispatcher(self)
        return self._dispatcher

    @contextlib.contextmanager
    def overridden(
        self, settings: Settings, *, result_store: ResultStore | None = None
    ) -> Iterator[LRO]:
        """Run this LRO with other settings (and result store) inside the block, and give
        it back as it was afterwards: what `lro.testing` does to point a user's LRO at a
        temporary store. Refused (RuntimeError) for a store passed to `LRO(store=...)` or
        an LRO that is running; one built from its URL but never started holds nothing
        yet and is simply set aside. Stop the LRO before the block ends."""
        if not self._owns_store or self._started:
            where = "was passed to LRO(store=...)" if not self._owns_store else "is running"
            raise RuntimeError(
                f"this LRO's store ({type(self._store).__name__}) {where}; build the LRO "
                "from a URL and stop it after other uses (await lro.stop())"
            )
        saved = (
            self.settings,
            self._store,
            self._hub,
            self._dispatcher,
            self._result_store,
            self._owns_result_store,
        )
        self.settings = settings
        self._store = self._hub = self._dispatcher = None
        self._result_store = result_store
        self._owns_result_store = result_store is None
        try:
            yield self
        finally:
            (
                self.settings,
                self._store,
                self._hub,
                self._dispatcher,
                self._result_store,
                self._owns_result_store,
            ) = saved

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LRO]:
        """`async with lro.running():` — started store for scripts and tests."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    # -- enqueue without HTTP -----------------------------------------------------------
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
        tags: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
        depends_on: Sequence[str] | None = None,
        dependency_policy: str | None = None,
    ) -> Job:
        """Enqueue one job and return it (the existing job when the idempotency key was
        used before with the same operation and params). `tags` and `metadata` are kept
        with the job, not given to the handler as params (it reads `ctx.tags`,
        `ctx.metadata`). With `depends_on` (ids of `owner`'s jobs) the job waits until
        they completed, and fails with `dependency_failed` when one fails or is cancelled
        (unless `dependency_policy="always"`)."""
        [inserted] = await self.submit_many(
            [
                SubmitRequest(
                    operation=operation,
                    params=params,
                    owner=owner,
                    idempotency_key=idempotency_key,
                    callback_url=callback_url,
                    priority=priority,
                    delay=delay,
                    tags=None if tags is None else list(tags),
                    metadata=metadata,
                    depends_on=None if depends_on is None else list(depends_on),
                    dependency_policy=dependency_policy,
                )
            ]
        )
        return inserted

    async def submit_batch(
        self,
        jobs: Sequence[BatchItem | Mapping[str, Any]],
        *,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        owner: str = "",
    ) -> BatchInserted:
        """Submit up to 1,000 jobs as one batch, in one transaction (HTTP-CONTRACT §17).
        Each job is a `BatchItem` or a mapping `{"operation", "params", "priority"?,
        "tags"?, "metadata"?, "ref"?}`. All are validated first: one bad job stores
        nothing (Unprocessable, whose `errors` point at it: `/jobs/2/params/rows`).
        `callback_url` gets one `batch.completed` webhook when the last job ends. Returns
        the batch (counts, progress) and its jobs in order."""
        await self.start()
        items = [j if isinstance(j, BatchItem) else BatchItem.from_json(j) for j in jobs]
        request = BatchRequest(
            items=items, owner=owner, callback_url=callback_url, idempotency_key=idempotency_key
        )
        return await submit_batch(self, request)

    async def submit_many(self, requests: Sequence[SubmitRequest]) -> list[Job]:
        """Enqueue a batch in one transaction; all are validated before any is stored."""
        await self.start()
        return [i.job for i in await submit_jobs(self, requests)]


class _SlotsGauge:
    """`lro_worker_slots` for one worker, registered while it runs."""

    def __init__(self, lro: LRO, worker: Worker) -> None:
        self._lro = lro
        self._worker = worker
        self._remove: Callable[[], None] | None = None

    async def start(self) -> None:
        worker = self._worker
        self._remove = self._lro.metrics.gauge(
            "lro_worker_slots",
            "Job slots of this process's workers, busy and in all.",
            lambda: [({"state": "busy"}, worker.busy), ({"state": "total"}, worker.concurrency)],
        )

    async def stop(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None
