"""A store's in-process change listeners: every backend keeps them the same way.

A backend's connection layer owns one `Listeners` and calls `dispatch` after each commit
with the changes it made, and again with the changes it hears of from other processes
(a poll, LISTEN/NOTIFY, a stream). `on_change` lets it start that cross-process feed
while anyone listens and stop it when the last listener goes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence

from lro.store.types import JobChange, Listener

_log = logging.getLogger("lro.store")


def dispatch(listeners: Sequence[Listener], changes: Sequence[JobChange]) -> None:
    """Call every listener with every change; one failing listener must not keep the
    changes from the others (they are waiters of unrelated requests)."""
    if not changes or not listeners:
        return
    snapshot = tuple(listeners)  # a listener may remove itself while being called
    for change in changes:
        for listener in snapshot:
            try:
                listener(change)
            except Exception:
                _log.exception("store listener failed on %s", change)


class Listeners:
    """The registered listeners; `on_change` runs after each add and remove."""

    def __init__(self, on_change: Callable[[], None] = lambda: None) -> None:
        self._listeners: list[Listener] = []
        self.on_change = on_change

    def __bool__(self) -> bool:
        return bool(self._listeners)

    def add(self, listener: Listener) -> Callable[[], None]:
        """Register `listener`; returns the function that removes it."""
        self._listeners.append(listener)
        self.on_change()

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)
            self.on_change()

        return remove

    def dispatch(self, changes: Sequence[JobChange]) -> None:
        dispatch(self._listeners, changes)
