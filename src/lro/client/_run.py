"""One run of a plan, minus the I/O: what Client and AsyncClient drive.

`PlanRun` feeds the plan the outcome of each action (or throws the I/O error into it),
hands the driver the next action and the driver's method for it, and keeps the streamed
responses the plan holds open, with the body iterator of each, so that the driver can
close them however the run ends: finished, failed, abandoned or cancelled.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import httpx
from httpx_sse import SSEError

from lro.client._core import Action, Call, Close, Expired, Next, Plan, Read, Send, Sleep

T = TypeVar("T")
B = TypeVar("B")

RECOVERABLE = (httpx.HTTPError, SSEError, Expired)
"""I/O errors (and actions cut at their `within`) handed back to the plan, which decides
whether to retry, resume or give up. Anything else (a bug, KeyboardInterrupt, a failing
user callback) ends the run."""


_HANDLERS: dict[type, str] = {
    Send: "send",
    Sleep: "sleep",
    Read: "read",
    Next: "next",
    Close: "close",
    Call: "call",
}


class PlanRun(ABC, Generic[B]):
    """Subclasses implement one method per action; `B` is their body iterator type."""

    def __init__(self, plan: Plan[Any]) -> None:
        self._plan = plan
        self._outcome: Any = None
        self._error: BaseException | None = None
        self.result: Any = None
        self.streams: dict[httpx.Response, B | None] = {}
        """Streamed responses still open, each with its body iterator once one exists."""

    def next_action(self) -> Action | None:
        """The plan's next action, or None once it returned (its value is in `result`)."""
        try:
            if self._error is None:
                action = self._plan.send(self._outcome)
            else:
                action = self._plan.throw(self._error)
        except StopIteration as stop:
            self.result = stop.value
            return None
        self._outcome, self._error = None, None
        return action

    def resume(self, outcome: Any) -> None:
        self._outcome = outcome

    def fail(self, error: BaseException) -> None:
        self._error = error

    def handler(self, action: Action) -> Callable[[Any], Any]:
        """The driver's method for `action` (an Emit is the driver loop's own business)."""
        name = _HANDLERS.get(type(action))
        if name is None:
            raise TypeError(f"not an action for the driver: {action!r}")
        method: Callable[[Any], Any] = getattr(self, name)
        return method

    def body(self, action: Next, make: Callable[[], B]) -> B:
        """The response's body iterator, made on first use."""
        existing = self.streams.get(action.response)
        if existing is not None:
            return existing
        made = make()
        self.streams[action.response] = made
        return made

    def finish(self) -> list[tuple[httpx.Response, B | None]]:
        """Close the plan; the streams the driver must still close."""
        self._plan.close()
        left = list(self.streams.items())
        self.streams.clear()
        return left

    # -- the I/O, one method per action --------------------------------------------------
    @abstractmethod
    def send(self, action: Send) -> Any:
        """Send a request (blocking, or a coroutine in the async run)."""

    @abstractmethod
    def sleep(self, action: Sleep) -> Any:
        """Wait out a backoff or Retry-After delay."""

    @abstractmethod
    def read(self, action: Read) -> Any:
        """Read the next event or chunk of an open stream."""

    @abstractmethod
    def next(self, action: Next) -> Any:
        """Open a stream, or take its next item."""

    @abstractmethod
    def close(self, action: Close) -> Any:
        """Close a stream the plan is done with."""

    @abstractmethod
    def call(self, action: Call) -> Any:
        """Run a caller's callback (awaited when it is a coroutine function)."""
