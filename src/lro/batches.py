"""Turning a batch request (HTTP `POST /batches` or `lro.submit_batch`) into a stored
batch (HTTP-CONTRACT §17): every job validated first, all errors reported together with
0-based JSON Pointers (`/jobs/2/params/rows`), then one transaction for the batch row and
all its jobs. The same rules as a single submit (`lro.submission`), applied per item."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lro import tracing
from lro.dependencies import check_dependencies, check_policy
from lro.errors import IdempotencyMismatch, KeyReused, NotSupported, Unprocessable
from lro.labels import check_metadata, check_tags
from lro.models import JSON, NewJob, utcnow
from lro.store import BatchInserted, NewBatch
from lro.submission import canonical_json, check_callback_url, fingerprint, validate_params

if TYPE_CHECKING:
    from lro.runtime import Runtime

MAX_BATCH_JOBS = 1000
MAX_PRIORITY = 2**31 - 1


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One job of a batch, as the request gave it (values checked by `submit_batch`)."""

    operation: Any
    params: Any = None
    ref: Any = None
    """A name later items of the same batch may use in `depends_on`."""
    priority: Any = 0
    tags: Any = None
    metadata: Any = None
    depends_on: Any = None
    dependency_policy: Any = None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> BatchItem:
        return cls(
            operation=item.get("operation"),
            params=item.get("params"),
            ref=item.get("ref"),
            priority=item.get("priority", 0),
            tags=item.get("tags"),
            metadata=item.get("metadata"),
            depends_on=item.get("depends_on"),
            dependency_policy=item.get("dependency_policy"),
        )

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"operation": self.operation, "params": self.params or {}}
        for name in ("ref", "tags", "metadata", "depends_on", "dependency_policy"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.priority:
            out["priority"] = self.priority
        return out


@dataclass(frozen=True, slots=True)
class BatchRequest:
    items: Sequence[BatchItem]
    owner: str = ""
    callback_url: str | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None
    """What makes two requests "the same" for the key; computed from the items when not
    given (the HTTP layer passes method, path and body, as for single submits)."""
    known: dict[str, str] = field(default_factory=dict)


def _errors_of(exc: Unprocessable, prefix: str) -> list[dict[str, Any]]:
    """The field errors of a refusal, their pointers moved under `prefix`."""
    errors = (exc.extensions or {}).get("errors") or [{"pointer": "", "detail": exc.detail}]
    moved = []
    for err in errors:
        item = dict(err)
        item["pointer"] = prefix + str(err.get("pointer", ""))
        if "loc" in item:
            item.pop("loc")
        moved.append(item)
    return moved


def _problem(errors: list[dict[str, Any]]) -> Unprocessable:
    summary = "; ".join(f"{e['pointer']}: {e['detail']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return Unprocessable(
        f"The batch is not valid, so none of its jobs was stored: {summary}{more}",
        extensions={"errors": errors},
    )


async def submit_batch(lro: Runtime, request: BatchRequest) -> BatchInserted:
    """Validate every item, then store the batch and all its jobs in one transaction.

    Nothing is stored unless every item is valid; a 422 lists every bad field of every
    item. A replayed idempotency key returns the original batch (`created=False`)."""
    batches = lro.store.batches
    if batches is None:
        raise NotSupported(
            "This server's job store does not support batches (HTTP-CONTRACT §19); "
            "submit the jobs one by one, or use an SQLite or PostgreSQL store."
        )
    items = request.items
    if not 1 <= len(items) <= MAX_BATCH_JOBS:
        raise _problem(
            [
                {
                    "pointer": "/jobs",
                    "detail": f"a batch has 1 to {MAX_BATCH_JOBS} jobs, not {len(items)}",
                }
            ]
        )
    if request.callback_url is not None:
        await check_callback_url(request.callback_url, lro.settings)
    now = utcnow()
    batch_id = str(uuid.uuid4())
    errors: list[dict[str, Any]] = []
    jobs: list[NewJob] = []
    refs: dict[str, str] = {}
    estimates: dict[str, float | None] = {}
    for i, item in enumerate(items):
        at = f"/jobs/{i}"
        op = lro.operations.get(item.operation) if isinstance(item.operation, str) else None
        if op is None:
            errors.append({"pointer": f"{at}/operation", "detail": "unknown operation"})
            continue
        before = len(errors)
        params: dict[str, Any] = {}
        try:
            params = validate_params(op, item.params)
        except Unprocessable as exc:
            errors.extend(_errors_of(exc, f"{at}/params"))
        tags: tuple[str, ...] = ()
        metadata = None
        try:
            tags = check_tags(item.tags, at)
        except Unprocessable as exc:
            errors.extend(_errors_of(exc, ""))
        try:
            metadata = check_metadata(item.metadata, at)
        except Unprocessable as exc:
            errors.extend(_errors_of(exc, ""))
        priority = item.priority
        if (
            isinstance(priority, bool)
            or not isinstance(priority, int)
            or abs(priority) > MAX_PRIORITY
        ):
            errors.append({"pointer": f"{at}/priority", "detail": "an integer, higher runs first"})
        job_id = str(uuid.uuid4())
        ref_ok = True
        if item.ref is not None:
            if not isinstance(item.ref, str) or not 1 <= len(item.ref) <= 64:
                errors.append({"pointer": f"{at}/ref", "detail": "a string of 1 to 64 characters"})
                ref_ok = False
            elif item.ref in refs:
                errors.append({"pointer": f"{at}/ref", "detail": "used by an earlier job"})
                ref_ok = False
        depends_on: tuple[str, ...] = ()
        policy = None
        try:
            depends_on = await check_dependencies(
                lro, item.depends_on, request.owner, at, refs=refs
            )
        except Unprocessable as exc:
            errors.extend(_errors_of(exc, ""))
        try:
            policy = check_policy(item.dependency_policy, at)
        except Unprocessable as exc:
            errors.extend(_errors_of(exc, ""))
        if ref_ok and isinstance(item.ref, str):
            refs[item.ref] = job_id  # later items only: no cycle can be written
        if len(errors) > before:
            continue
        if op.name not in estimates:
            estimates[op.name] = await lro.estimator.estimate(lro.store, op)
        jobs.append(
            NewJob(
                id=job_id,
                operation=op.name,
                params=params,
                owner=request.owner,
                priority=priority,
                max_attempts=op.max_attempts,
                timeout_seconds=op.timeout,
                run_at=now,
                estimated_duration_seconds=estimates[op.name],
                tags=tags,
                metadata=metadata,
                batch_id=batch_id,
                depends_on=depends_on,
                dependency_policy=policy,
                trace_context=tracing.current_context(),
            )
        )
    if errors:
        raise _problem(errors)
    key = request.idempotency_key
    fp = None
    if key:
        fp = request.fingerprint or fingerprint(
            "batch", canonical_json([i.to_json() for i in items]), request.callback_url or ""
        )
    ttl = timedelta(seconds=lro.settings.idempotency_ttl_seconds)
    new = NewBatch(
        id=batch_id,
        owner=request.owner,
        jobs=jobs,
        callback_url=request.callback_url,
        idempotency_key=key,
        request_fingerprint=fp,
        idempotency_expires_at=now + ttl if key else None,
    )
    try:
        inserted = await batches.insert_batch(new, now)
    except KeyReused as exc:
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used for a different request (another "
            "path or body). Use a new key for a new request.",
            extensions={"batch_id": exc.job_id},
        ) from None
    if inserted.created:
        for job in inserted.jobs:
            lro.metrics.operation(job.operation).submitted.inc()
    return inserted
