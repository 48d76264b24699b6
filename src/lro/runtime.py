"""The services the layers below the composition root run on, as one small protocol.

`lro.app.LRO` builds and owns them (it is the composition root); the API, the worker, the
webhook dispatcher and submission see only this protocol, never `LRO` itself, so none of
them can reach for something it was not meant to have, and a test of one route or one
worker needs only these few pieces (import-linter holds the line: see pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from lro.config import Settings
from lro.estimates import Estimator
from lro.events import ChangeHub
from lro.metrics import Metrics
from lro.operations import Operation
from lro.results import ResultStore
from lro.retry import RetryPolicy
from lro.store.base import Store


class Runtime(Protocol):
    """What a running lro process offers its parts. Every attribute is ready to use once
    `start()` has returned (the store open and migrated, the change hub listening)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def operations(self) -> Mapping[str, Operation]:
        """The registered operations by name (it may grow while the process runs)."""
        ...

    @property
    def store(self) -> Store: ...

    @property
    def hub(self) -> ChangeHub: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def result_store(self) -> ResultStore: ...

    @property
    def estimator(self) -> Estimator: ...

    @property
    def retry_policy(self) -> RetryPolicy:
        """When a job's next attempt may start: one rule for failed attempts and lost
        leases, with each operation's own backoff base."""
        ...

    async def start(self) -> None:
        """Open the store and start the change hub; idempotent and cheap once done."""
        ...


__all__ = ["Runtime"]
