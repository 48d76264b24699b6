"""`Client`: performs the plans' actions with blocking I/O (httpx.Client, time.sleep)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import httpx
from httpx_sse import EventSource

from lro.client import _batches, _calls, _download, _schedules, _watch
from lro.client._base import ClientBase, adopt, plan_returns
from lro.client._core import Call, Close, Config, Emit, Expired, Next, Plan, Read, Send, Sleep
from lro.client._cutoff import Cutoff
from lro.client._run import RECOVERABLE, PlanRun
from lro.client.models import JobEvent, JobResource, Partial

P = ParamSpec("P")
T = TypeVar("T")
E = TypeVar("E")


class _Run(PlanRun[Iterator[Any]]):
    def __init__(self, http: httpx.Client, plan: Plan[Any]) -> None:
        super().__init__(plan)
        self._http = http
        self._cutoffs: dict[httpx.Response, Cutoff | None] = {}

    def send(self, action: Send) -> httpx.Response:
        # Only the start is checked here: the plan clipped the request's timeouts to
        # `within`, and reading a streamed body is bounded by `next` and `read`.
        if action.within is not None and action.within <= 0:
            raise Expired("no time was left to send the request")
        response = self._http.send(action.request, stream=action.stream)
        if action.stream:
            self.streams[response] = None
        return response

    def sleep(self, action: Sleep) -> None:
        time.sleep(max(action.seconds, 0.0))

    def read(self, action: Read) -> bytes:
        return self._bounded(action.response, action.within, action.response.read)

    def next(self, action: Next) -> Any:
        response = action.response
        if action.kind == "sse":
            body = self.body(action, lambda: EventSource(response).iter_sse())
        else:
            body = self.body(action, response.iter_bytes)
        return self._bounded(response, action.within, lambda: next(body, None))

    def _bounded(self, response: httpx.Response, within: float | None, read: Callable[[], T]) -> T:
        """`read()`, cut by the response's `Cutoff` once `within` seconds have passed."""
        if within is None:
            return read()
        if within <= 0:
            raise Expired("no time was left to read the response")
        if response not in self._cutoffs:
            self._cutoffs[response] = Cutoff.for_response(response)
        cutoff = self._cutoffs[response]
        if cutoff is None:
            # Nothing to cut: httpx's read timeout (clipped by the plan) bounds each read,
            # and the plan's next action finds the time up.
            return read()
        cutoff.arm(within)
        try:
            return read()
        except Exception as exc:
            if cutoff.fired:
                raise Expired(f"the read was cut after {within:g}s") from exc
            raise
        finally:
            cutoff.disarm()

    def close(self, action: Close) -> None:
        self.release(action.response, self.streams.pop(action.response, None))

    def release(self, response: httpx.Response, body: Iterator[Any] | None) -> None:
        """Close a stream, after stopping its cutoff (which must not outlive the socket)."""
        cutoff = self._cutoffs.pop(response, None)
        if cutoff is not None:
            cutoff.stop()
        if isinstance(body, Generator):
            body.close()
        response.close()

    def call(self, action: Call) -> None:
        outcome = action.callback(action.job)
        if inspect.isawaitable(outcome):
            if inspect.iscoroutine(outcome):
                outcome.close()
            raise TypeError("Client takes plain callbacks; use AsyncClient for async ones")


def steps(http: httpx.Client, plan: Plan[T]) -> Generator[object, None, T]:
    """Run `plan` to its end, yielding what it emits and returning what it returns."""
    run = _Run(http, plan)
    try:
        while (action := run.next_action()) is not None:
            if isinstance(action, Emit):
                yield action.item
                continue
            try:
                run.resume(run.handler(action)(action))
            except RECOVERABLE as exc:
                run.fail(exc)
        return cast(T, run.result)
    finally:
        for response, body in run.finish():
            run.release(response, body)


def _run(http: httpx.Client, plan: Plan[T]) -> T:
    running = steps(http, plan)
    while True:
        try:
            next(running)
        except StopIteration as stop:
            return cast(T, stop.value)


def _method(
    plan: Callable[Concatenate[Config, P], Plan[T]], name: str | None = None
) -> Callable[Concatenate[Client, P], T]:
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return _run(self._http, plan(self._config, *args, **kwargs))

    adopt(method, plan, "Client", name or plan.__name__, plan_returns(plan))
    return method


def _iterator(
    plan: Callable[Concatenate[Config, P], Plan[None]], item: type[E]
) -> Callable[Concatenate[Client, P], Iterator[E]]:
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[E]:
        for emitted in steps(self._http, plan(self._config, *args, **kwargs)):
            yield cast(E, emitted)

    adopt(method, plan, "Client", plan.__name__, f"Iterator[{item.__name__}]")
    return method


class Client(ClientBase[httpx.BaseTransport]):
    """A blocking client of an lro service. Thread-safe; use one per service and close it
    (or use it as a context manager) to release its connections.

        with Client("http://127.0.0.1:8000") as client:
            job = client.submit("reports.generate", {"rows": 100})
            done = client.wait(job.job_id)
    """

    def _open(self, transport: httpx.BaseTransport | None) -> None:
        self._http = httpx.Client(transport=transport, follow_redirects=False)

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

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Last, so that the name `list` means the builtin everywhere above.
    list = _method(_calls.list_jobs, "list")
