"""What Client and AsyncClient share besides the plans: construction and configuration,
and the trick that turns a plan function into a documented method of each."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from lro.client._core import Backoff, Config

DEFAULT_URL = "http://127.0.0.1:8000"
TransportT = TypeVar("TransportT")


class ClientBase(ABC, Generic[TransportT]):
    """Configuration shared by Client and AsyncClient; they differ only in how they do I/O."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        prefix: str = "/api/v1",
        timeout: float = 30.0,
        max_retries: int = 5,
        transport: TransportT | None = None,
        backoff: Backoff | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """`url` is the service's base URL and `prefix` its API prefix. `api_key` is sent
        as a Bearer token. `timeout` bounds each network step (connect, each read, ...),
        not a whole call. Failed attempts are retried up to `max_retries` times, paced by
        `backoff`. `transport` replaces httpx's network layer (tests, custom TLS or
        proxies); `headers` are added to every request."""
        self._config = Config.create(
            url,
            api_key=api_key,
            prefix=prefix,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            headers=headers,
        )
        self._open(transport)

    @abstractmethod
    def _open(self, transport: TransportT | None) -> None:
        """Create the httpx client (blocking or async) the subclass does its I/O with."""

    @property
    def url(self) -> str:
        return self._config.base_url + self._config.prefix

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config.base_url!r}, prefix={self._config.prefix!r})"


def adopt(
    method: Callable[..., Any], plan: Callable[..., Any], owner: str, name: str, returns: str
) -> None:
    """Give a method built from a plan the plan's documentation and signature (minus the
    config, plus `self`), so help(), IDEs and doc tools show the real parameters."""
    method.__name__ = name
    method.__qualname__ = f"{owner}.{name}"
    method.__module__ = "lro.client"
    method.__doc__ = plan.__doc__
    signature = inspect.signature(plan)
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    params = [self_param, *list(signature.parameters.values())[1:]]
    method.__dict__["__signature__"] = signature.replace(
        parameters=params, return_annotation=returns
    )


def plan_returns(plan: Callable[..., Any]) -> str:
    """`JobResource` for a plan annotated `Plan[JobResource]`."""
    text = str(inspect.signature(plan).return_annotation)
    return text[len("Plan[") : -1] if text.startswith("Plan[") else text
