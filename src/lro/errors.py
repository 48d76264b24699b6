"""One exception tree; each class maps to exactly one RFC 9457 problem (see `PROBLEMS`).

    LROError
    ├── ProblemError                 raised by the API layer, carries status + problem type
    │   ├── BadRequest               400  malformed header, bad query parameter
    │   ├── Unauthorized             401  missing or unknown API key
    │   ├── Forbidden                403  an invalid or expired signed result link
    │   ├── NotFound                 404  unknown or someone else's job
    │   ├── Conflict                 409  wrong status for the action
    │   │   └── IdempotencyInProgress 409 duplicate arrived while the first is being written
    │   ├── Gone                     410  job expired
    │   ├── PayloadTooLarge          413
    │   ├── Unprocessable            422  validation, unknown operation, bad callback_url
    │   │   └── IdempotencyMismatch  422  same key, different request
    │   ├── TooManyRequests          429  a principal's rate or concurrency limit
    │   ├── NotSupported             501  a feature this store backend does not have
    │   └── ServiceUnavailable       503  store unreachable, shutting down, overloaded
    │       └── QueueFull            503  the operation's max_queued is reached
    ├── Unsupported                  a declared option the store cannot honour (at start-up)
    ├── StoreUnavailable             the store cannot be reached (maps to 503)
    ├── SchemaTooNew                 the database was migrated by a newer lro
    ├── JobCancelled                 raised in a handler whose job was cancelled
    │   └── LeaseLost                the attempt lost its lease: its writes are refused
    ├── LongJobsUnsupported          steps / checkpoints / partials on a store without them
    ├── KeyReused                    store: a live idempotency key, a different request
    └── JobError                     raised by handlers to fail a job with an actionable error
        └── PermanentError           the same, never retried

Handlers raise `JobError` (or its subclass `PermanentError`) to choose the `code`, `title`
and `detail` the client sees; any other exception becomes a generic, retryable
`handler_error` whose detail names the exception type but never carries a traceback.
"""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://lro.dev/problems/"


class LROError(Exception):
    """Base of every error lro raises on purpose."""


class ProblemError(LROError):
    status: int = 500
    slug: str = "internal"
    title: str = "Internal server error"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions or {}

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict with the job's current status"


class IdempotencyInProgress(Conflict):
    slug, title = "idempotency-in-progress", "A request with this Idempotency-Key is in progress"


class Gone(ProblemError):
    status, slug, title = 410, "gone", "Job expired"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class Unprocessable(ProblemError):
    status, slug, title = 422, "validation", "The request is not valid"


class IdempotencyMismatch(Unprocessable):
    slug, title = "idempotency-mismatch", "Idempotency-Key reused with a different request"


class TooManyRequests(ProblemError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class NotSupported(ProblemError):
    """HTTP-CONTRACT §19: the store backend cannot do this (batches on a store without
    them), said plainly rather than pretended."""

    status, slug, title = 501, "not-supported", "Not supported by this server's store"


class ServiceUnavailable(ProblemError):
    status, slug, title = 503, "unavailable", "Service unavailable"


class QueueFull(ServiceUnavailable):
    slug, title = "queue-full", "The operation's queue is full"


class Unsupported(LROError):
    """The application declared something its store cannot do (workload limits on a
    store without `Store.workload`): refused when the LRO starts, never ignored."""


class StoreUnavailable(LROError):
    """The store cannot be reached right now; callers answer 503 and retry later."""


class KeyReused(LROError):
    """The store found an idempotency key held by a live job whose request fingerprint
    differs; the whole insert was rolled back. Submission turns it into a 422."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"idempotency key already used by job {job_id} for another request")
        self.job_id = job_id


class SchemaTooNew(LROError):
    """The database schema was written by a newer lro than this one; refusing to touch it."""


class JobError(LROError):
    """Raise from a handler to fail the attempt with an error the client can act on.

    `retryable=True` (the default) lets the worker retry while attempts remain.
    """

    retryable: bool = True

    def __init__(
        self,
        detail: str,
        *,
        code: str = "job_error",
        title: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.title = title or "The job failed"
        if retryable is not None:
            self.retryable = retryable


class PermanentError(JobError):
    """A failure that retrying cannot fix (bad input, missing permission): never retried."""

    retryable = False


class JobCancelled(LROError):
    """Raised inside a handler by `ctx.raise_if_cancelled()`; the job ends `cancelled`."""


class LeaseLost(JobCancelled):
    """Raised inside a handler when a step, checkpoint or partial write was refused by the
    lease fence: another worker owns the job now, so this attempt must stop."""


class LongJobsUnsupported(LROError):
    """`ctx.run_step`, `ctx.checkpoint` or `ctx.partial` on a store backend that has no
    long-jobs part (`Store.steps is None`)."""
