"""`Client`: performs the plans' actions with blocking I/O (httpx.Client, time.sleep)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import httpx
from httpx_sse import EventSource

from lro.client import _calls, _download, _watch
from lro.client._base import ClientBase, adopt, plan_returns
from lro.client._core import Call, Close, Config, Emit, Next, Plan, Read, Send, Sleep
from lro.client._run import RECOVERABLE, PlanRun
from lro.client.models import JobEvent, JobResource

P = ParamSpec("P")
T = TypeVar("T")
E = TypeVar("E")


class _Run(PlanRun[Iterator[Any]]):
    def __init__(self, http: httpx.Client, plan: Plan[Any]) -> None:
        super().__init__(plan)
        self._http = http

    def send(self, action: Send) -> httpx.Response:
        response = self._http.send(action.request, stream=action.stream)
        if action.stream:
            self.streams[response] = None
        return response

    def sleep(self, action: Sleep) -> None:
        time.sleep(max(action.seconds, 0.0))

    def read(self, action: Read) -> bytes:
        return action.response.read()

    def next(self, action: Next) -> Any:
        response = action.response
        if action.kind == "sse":
            body = self.body(action, lambda: EventSource(response).iter_sse())
        else:
            body = self.body(action, response.iter_bytes)
        return next(body, None)

    def close(self, action: Close) -> None:
        _close(action.response, self.streams.pop(action.response, None))

    def call(self, action: Call) -> None:
        outcome = action.callback(action.job)
        if inspect.isawaitable(outcome):
            if inspect.iscoroutine(outcome):
                outcome.close()
            raise TypeError("Client takes plain callbacks; use AsyncClient for async ones")


def _close(response: httpx.Response, body: Iterator[Any] | None) -> None:
    if isinstance(body, Generator):
        body.close()
    response.close()


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
            _close(response, body)


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
    get = _method(_calls.get)
    iter_jobs = _iterator(_calls.iter_jobs, JobResource)
    cancel = _method(_calls.cancel)
    delete = _method(_calls.delete)
    result = _method(_calls.result)
    download = _method(_download.download)
    events = _iterator(_watch.events, JobEvent)
    wait = _method(_watch.wait)

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
