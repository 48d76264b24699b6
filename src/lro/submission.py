"""Turning a submit request (HTTP or library) into stored jobs: validation, idempotency."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from lro import tracing
from lro.dependencies import check_dependencies, check_policy
from lro.errors import (
    IdempotencyMismatch,
    KeyReused,
    NotSupported,
    QueueFull,
    Unprocessable,
    Unsupported,
)
from lro.labels import check_metadata, check_tags
from lro.models import Inserted, NewJob, utcnow
from lro.operations import INTERNAL_PREFIX, user_operations
from lro.store.base import workload_of
from lro.store.capabilities import has_flows
from lro.text import NUL, nul_pointer
from lro.webhooks.ssrf import Resolver, TargetPolicy, TargetRefused, check_url

if TYPE_CHECKING:
    from lro.config import Settings
    from lro.operations import Operation
    from lro.runtime import Runtime


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    operation: str
    params: Any = None
    owner: str = ""
    idempotency_key: str | None = None
    fingerprint: str | None = None
    """What makes two requests "the same" for the idempotency key; computed from the
    operation and params when not given (the HTTP layer passes method, path and body)."""
    callback_url: str | None = None
    priority: int = 0
    delay: float | None = None
    callback_progress: bool = False
    internal: bool = False
    """Set by lro's own routes only: may submit an `lro.` operation (the bulk actions)."""
    tags: Any = None
    """Reserved fields of HTTP-CONTRACT §15, checked by `lro.labels`."""
    metadata: Any = None
    depends_on: Any = None
    """Job ids this job waits for (HTTP-CONTRACT §17), checked by `lro.dependencies`."""
    dependency_policy: Any = None


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """`json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` with
    the encoder made once (`json.dumps` with options builds one per call)."""
    return _CANONICAL.encode(value)


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def validation_problem(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> Unprocessable:
    errors = [
        {
            "loc": [*prefix, *err["loc"]],
            "pointer": "/" + "/".join(str(p) for p in (*prefix, *err["loc"])),
            "detail": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    summary = "; ".join(f"{e['pointer']}: {e['detail']}" for e in errors[:5])
    return Unprocessable(f"Invalid parameters: {summary}", extensions={"errors": errors})


MAX_CALLBACK_URL = 2048
"""Longest callback URL accepted, in characters. The URL is stored with the job, copied
into every delivery and sent on every attempt: a 900 KB one was accepted at submit and
only failed at delivery. 2048 is what browsers and most proxies handle."""


async def check_callback_url(
    url: str, settings: Settings, resolver: Resolver | None = None
) -> None:
    """Refuse (422) a callback URL the webhook sender would refuse: too long, not http(s),
    or a host that does not resolve or reaches a non-public address (docs/webhooks.md)."""
    if NUL in url:
        reason = "callback_url must not contain U+0000 (NUL)"
        raise Unprocessable(
            reason, extensions={"errors": [{"pointer": "/callback_url", "detail": reason}]}
        )
    if len(url) > MAX_CALLBACK_URL:
        reason = (
            f"callback_url is {len(url)} characters long; at most {MAX_CALLBACK_URL} are allowed"
        )
        raise Unprocessable(
            reason, extensions={"errors": [{"pointer": "/callback_url", "detail": reason}]}
        )
    try:
        await check_url(url, TargetPolicy.from_settings(settings), resolver)
    except TargetRefused as exc:
        raise Unprocessable(
            exc.reason,
            extensions={"errors": [{"pointer": "/callback_url", "detail": exc.reason}]},
        ) from None


def validate_params(op: Operation, params: Any) -> dict[str, Any]:
    if isinstance(params, BaseModel):
        params = params.model_dump(mode="json")
    if params is None:
        params = {}
    try:
        model = op.params_model.model_validate(params)
    except ValidationError as exc:
        raise validation_problem(exc) from None
    dumped: dict[str, Any] = model.model_dump(mode="json")
    # repr shows every U+0000 as the four characters \x00, so without them there is none
    # to point at: the walk below, which builds a pointer per key, runs only when needed.
    where = nul_pointer(dumped) if "\\x00" in repr(dumped) else None
    if where is not None:
        detail = "text must not contain U+0000 (NUL): no store can keep it everywhere"
        raise Unprocessable(
            f"Invalid parameters: {where or '/'}: {detail}",
            extensions={"errors": [{"pointer": where, "detail": detail, "type": "nul"}]},
        )
    return dumped


async def check_depth(lro: Runtime, jobs: Sequence[NewJob]) -> None:
    """Refuse (503 queue-full, nothing stored) a submit that would take an operation past
    its `max_queued`. Counted before the insert, so submits racing each other may pass
    the cap by the few in flight together: a guard against runaway queues, not a quota
    (per-principal caps are api/quotas.py's, exact in the store)."""
    wanted: dict[str, int] = {}
    for job in jobs:
        wanted[job.operation] = wanted.get(job.operation, 0) + 1
    for name, count in wanted.items():
        cap = lro.operations[name].limits.max_queued
        if cap is None:
            continue
        workload = workload_of(lro.store)
        if workload is None:
            raise Unsupported(f"operation {name!r}: this store cannot count its queue")
        queued = await workload.queued_count(name, cap)
        if queued + count > cap:
            raise QueueFull(
                f"Operation {name!r} has {queued} queued jobs, the most it holds is {cap}; "
                "retry after the Retry-After delay.",
                headers={"Retry-After": str(QUEUE_FULL_RETRY_SECONDS)},
                extensions={"operation": name, "max_queued": cap, "queued": queued},
            )


QUEUE_FULL_RETRY_SECONDS = 5


async def submit_jobs(lro: Runtime, requests: Sequence[SubmitRequest]) -> list[Inserted]:
    """Validate every request, then insert them all in one transaction.

    Nothing is stored unless every request is valid. A replayed idempotency key returns the
    original job (`created=False`); the same key with a different request raises 422.
    """
    now = utcnow()
    ttl = timedelta(seconds=lro.settings.idempotency_ttl_seconds)
    new_jobs: list[NewJob] = []
    trace_context = tracing.current_context()
    estimates: dict[str, float | None] = {}  # one look-up per operation, not per job
    for req in requests:
        op = lro.operations.get(req.operation)
        if op is None or (op.name.startswith(INTERNAL_PREFIX) and not req.internal):
            known = user_operations(lro.operations)
            raise Unprocessable(
                f"Unknown operation {req.operation!r}; known: " + ", ".join(known),
                extensions={"errors": [{"pointer": "/operation", "detail": "unknown"}]},
            )
        params = validate_params(op, req.params)
        tags, metadata = check_tags(req.tags), check_metadata(req.metadata)
        if req.depends_on and not has_flows(lro.store):
            raise NotSupported(
                "This server's job store does not support depends_on (HTTP-CONTRACT §19)."
            )
        if (tags or metadata is not None) and not has_flows(lro.store):
            # Refused rather than dropped: a client that tags a job expects to find it by
            # that tag, and this store could neither keep nor search it.
            raise NotSupported(
                "This server's job store does not keep tags or metadata (HTTP-CONTRACT §19)."
            )
        depends_on: tuple[str, ...] = ()
        if req.depends_on is not None:
            depends_on = await check_dependencies(lro, req.depends_on, req.owner)
        policy = check_policy(req.dependency_policy)
        if depends_on and req.delay:
            raise Unprocessable(
                "A job with depends_on starts when its dependencies complete; it takes no delay.",
                extensions={"errors": [{"pointer": "/delay_seconds", "detail": "with depends_on"}]},
            )
        if req.callback_url is not None:
            await check_callback_url(req.callback_url, lro.settings)
        elif req.callback_progress:
            raise Unprocessable(
                "callback_progress needs a callback_url to send the progress to.",
                extensions={"errors": [{"pointer": "/callback_progress", "detail": "no url"}]},
            )
        if req.delay is not None and req.delay < 0:
            raise Unprocessable("delay must not be negative")
        try:
            key = op.limits.key_for(params, req.owner)
        except Exception as exc:
            raise Unprocessable(
                f"No concurrency key could be made from these parameters: {exc}"
            ) from None
        # Only a keyed request is ever compared, so only it pays for canonical JSON + sha256.
        fp = None
        if req.idempotency_key:
            fp = req.fingerprint or fingerprint("submit", op.name, canonical_json(params))
        if op.name in estimates:
            estimate = estimates[op.name]
        else:
            estimate = estimates[op.name] = await lro.estimator.estimate(lro.store, op)
        new_jobs.append(
            NewJob(
                id=str(uuid.uuid4()),
                operation=op.name,
                params=params,
                owner=req.owner,
                priority=req.priority,
                max_attempts=op.max_attempts,
                timeout_seconds=op.timeout,
                run_at=now + timedelta(seconds=req.delay) if req.delay else now,
                estimated_duration_seconds=estimate,
                callback_url=req.callback_url,
                callback_progress=req.callback_progress,
                idempotency_key=req.idempotency_key,
                request_fingerprint=fp,
                idempotency_expires_at=now + ttl if req.idempotency_key else None,
                queue=op.limits.queue,
                concurrency_key=key,
                tags=tags,
                metadata=metadata,
                depends_on=depends_on,
                dependency_policy=policy,
                trace_context=trace_context,
            )
        )
    await check_depth(lro, new_jobs)
    try:
        inserted = await lro.store.insert_jobs(new_jobs, now)
    except KeyReused as exc:
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used for a different request (another "
            "path or body). Use a new key for a new request.",
            extensions={"job_id": exc.job_id},
        ) from None
    created: dict[str, int] = {}
    for i in inserted:
        if i.created:
            created[i.job.operation] = created.get(i.job.operation, 0) + 1
    for name, count in created.items():
        lro.metrics.operation(name).submitted.inc(count)
    return inserted
