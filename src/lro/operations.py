"""Operation: a registered handler with its params model, limits and retry policy."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from lro.limits import KeySource, Limits

Handler = Callable[..., Any]

INTERNAL_PREFIX = "lro."
"""Operations lro registers for itself (the bulk actions, `lro.bulk.*`): run by workers
like any other, but submitted only by lro's own routes, never by name."""


def user_operations(names: Iterable[str]) -> list[str]:
    """The application's operation names, without lro's own (for listings: /stats,
    /metrics, the submit route's documented names)."""
    return sorted(n for n in names if not n.startswith(INTERNAL_PREFIX))


NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:")


class EmptyParams(BaseModel):
    """Params model of an operation whose handler takes no params argument."""


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    handler: Handler
    params_model: type[BaseModel]
    takes_params: bool
    is_async: bool
    route: str | None = None
    estimated_duration: float | None = None
    max_attempts: int = 3
    timeout: float | None = None
    retry_base_seconds: float | None = None
    """Backoff base for this operation; None uses the LRO_RETRY_BASE_SECONDS setting."""
    respond_within: float | None = None
    """How long a submit waits for the job before answering 202 (HTTP-CONTRACT §21);
    None uses the LRO_RESPOND_WITHIN_SECONDS setting."""
    summary: str | None = None
    limits: Limits = field(default_factory=Limits)
    """Workload control (HTTP-CONTRACT §13): queue, concurrency, keys, rate, fairness,
    depth cap; enforced in the store's claim (lro.limits)."""


def make_operation(
    handler: Handler,
    *,
    name: str,
    route: str | None,
    estimated_duration: float | None,
    max_attempts: int,
    timeout: float | None,
    retry_base_seconds: float | None,
    respond_within: float | None = None,
    limits: Limits | None = None,
) -> Operation:
    """Build an Operation from `handler(ctx)` or `handler(ctx, params: SomeModel)`.

    The params model is read from the second parameter's annotation so the handler's own
    signature is the single declaration of what the operation accepts.
    """
    if not name or not set(name) <= NAME_CHARS or len(name) > 200:
        raise ValueError(f"operation name {name!r}: use letters, digits and . _ - :")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if timeout is not None and timeout <= 0:
        raise ValueError("timeout must be positive")
    if route is not None and not route.startswith("/"):
        raise ValueError(f"route {route!r} must start with '/'")
    if route is not None and (route == "/jobs" or route.startswith("/jobs/")):
        raise ValueError(f"operation {name!r}: route {route!r} is reserved by lro")
    if respond_within is not None and not respond_within >= 0:
        raise ValueError("respond_within must be 0 or more seconds")
    params = list(inspect.signature(handler).parameters.values())
    if not 1 <= len(params) <= 2:
        raise TypeError(f"handler {handler.__qualname__} must take (ctx) or (ctx, params)")
    model: type[BaseModel] = EmptyParams
    takes_params = len(params) == 2
    if takes_params:
        hints = typing.get_type_hints(handler)
        ann = hints.get(params[1].name)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            raise TypeError(
                f"handler {handler.__qualname__}: annotate its params argument with a "
                f"pydantic model, e.g. `params: ReportParams`"
            )
        model = ann
    doc = inspect.getdoc(handler)
    return Operation(
        name=name,
        handler=handler,
        params_model=model,
        takes_params=takes_params,
        is_async=inspect.iscoroutinefunction(handler),
        route=route,
        estimated_duration=estimated_duration,
        max_attempts=max_attempts,
        timeout=timeout,
        retry_base_seconds=retry_base_seconds,
        respond_within=respond_within,
        summary=doc.splitlines()[0] if doc else None,
        limits=limits or Limits(),
    )


__all__ = ["EmptyParams", "Handler", "KeySource", "Limits", "Operation", "make_operation"]
