"""`AsyncClient`: performs the plans' actions with async I/O (httpx.AsyncClient, anyio),
so it runs under asyncio and trio alike."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast

import anyio
import httpx
from httpx_sse import EventSource

from lro.client import _batches, _calls, _download, _schedules, _watch
from lro.client._base import ClientBase, adopt, plan_returns
from lro.client._core import Call, Close, Config, Emit, Expired, Next, Plan, Read, Send, Sleep
from lro.client._run import RECOVERABLE, PlanRun
from lro.client.models import JobEvent, JobResource, Partial

P = ParamSpec("P")
T = TypeVar("T")
E = TypeVar("E")


@dataclass(frozen=True)
class _Done(Generic[T]):
    """The plan's return value: an async generator cannot `return` one."""

    value: T


class _Run(PlanRun[AsyncIterator[Any]]):
    def __init__(self, http: httpx.AsyncClient, plan: Plan[Any]) -> None:
        super().__init__(plan)
        self._http = http

    async def send(self, action: Send) -> httpx.Response:
        response = await _bounded(
            action.within, lambda: self._http.send(action.request, stream=action.stream)
        )
        if action.stream:
            self.streams[response] = None
        return response

    async def sleep(self, action: Sleep) -> None:
        await anyio.sleep(max(action.seconds, 0.0))

    async def read(self, action: Read) -> bytes:
        return await _bounded(action.within, action.response.aread)

    async def next(self, action: Next) -> Any:
        response = action.response
        if action.kind == "sse":
            body = self.body(action, lambda: EventSource(response).aiter_sse())
        else:
            body = self.body(action, response.aiter_bytes)
        return await _bounded(action.within, lambda: anext(body, None))

    async def close(self, action: Close) -> None:
        await _aclose(action.response, self.streams.pop(action.response, None))

    async def call(self, action: Call) -> None:
        outcome = action.callback(action.job)
        if inspect.isawaitable(outcome):
            await outcome


async def _bounded(within: float | None, start: Callable[[], Awaitable[T]]) -> T:
    """`await start()`, cancelled once `within` seconds have passed (httpx and httpcore
    close the connection of a request or body read cancelled half-way)."""
    if within is None:
        return await start()
    if within <= 0:
        raise Expired("no time was left for the request")
    with anyio.move_on_after(within):
        return await start()
    raise Expired(f"cut after {within:g}s")


async def _aclose(response: httpx.Response, body: AsyncIterator[Any] | None) -> None:
    if isinstance(body, AsyncGenerator):
        await body.aclose()
    await response.aclose()


async def _steps(http: httpx.AsyncClient, plan: Plan[Any]) -> AsyncGenerator[object, None]:
    """Run `plan`, yielding what it emits and finally its return value as `_Done`."""
    run = _Run(http, plan)
    try:
        while (action := run.next_action()) is not None:
            if isinstance(action, Emit):
                yield action.item
                continue
            try:
                run.resume(await run.handler(action)(action))
            except RECOVERABLE as exc:
                run.fail(exc)
        yield _Done(run.result)
    finally:
        # Release the connections even when we are here because the task was cancelled.
        with anyio.CancelScope(shield=True):
            for response, body in run.finish():
                await _aclose(response, body)


async def _run(http: httpx.AsyncClient, plan: Plan[T]) -> T:
    async with contextlib.aclosing(_steps(http, plan)) as running:
        async for emitted in running:
            if isinstance(emitted, _Done):
                return cast(T, emitted.value)
    raise RuntimeError("the plan ended without a result")  # pragma: no cover


def _method(
    plan: Callable[Concatenate[Config, P], Plan[T]], name: str | None = None
) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await _run(self._http, plan(self._config, *args, **kwargs))

    adopt(method, plan, "AsyncClient", name or plan.__name__, plan_returns(plan))
    return method


def _iterator(
    plan: Callable[Concatenate[Config, P], Plan[None]], item: type[E]
) -> Callable[Concatenate[AsyncClient, P], AsyncIterator[E]]:
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[E]:
        async with contextlib.aclosing(
            _steps(self._http, plan(self._config, *args, **kwargs))
        ) as running:
            async for emitted in running:
                if isinstance(emitted, _Done):
                    return
                yield cast(E, emitted)

    adopt(method, plan, "AsyncClient", plan.__name__, f"AsyncIterator[{item.__name__}]")
    return method


class AsyncClient(ClientBase[httpx.AsyncBaseTransport]):
    """The async twin of `Client`: the same methods as coroutines, and `events` and
    `iter_jobs` as async iterators. `on_progress` may be a coroutine function.

        async with AsyncClient("http://127.0.0.1:8000") as client:
            job = await client.submit("reports.generate", {"rows": 100})
            done = await client.wait(job.job_id)
    """

    def _open(self, transport: httpx.AsyncBaseTransport | None) -> None:
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=False)

    submit = _method(_calls.submit)
    submit_batch = _method(_batches.submit_batch)
    get_batch = _method(_batches.get_batch)
    create_schedule = _method(_schedules.create_schedule)
    list_schedules = _method(_schedules.list_schedules)
    get_schedule = _method(_schedules.get_schedule)
    update_schedule = _method(_schedules.update_schedule)
    delete_schedule = _method(_schedules.delete_schedule)
    trigger_schedule = _method(_schedules.trigger_schedule)
    get = _method(_calls.get)
    iter_jobs = _iterator(_calls.iter_jobs, JobResource)
    cancel = _method(_calls.cancel)
    retry = _method(_calls.retry)
    delete = _method(_calls.delete)
    result = _method(_download.result)
    download = _method(_download.download)
    events = _iterator(_watch.events, JobEvent)
    iter_partials = _iterator(_watch.iter_partials, Partial)
    wait = _method(_watch.wait)
    operations = _method(_calls.list_operations, "operations")
    workers = _method(_calls.workers)

    async def close(self) -> None:
        await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # Last, so that the name `list` means the builtin everywhere above.
    list = _method(_calls.list_jobs, "list")
