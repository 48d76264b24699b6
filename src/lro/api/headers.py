"""Pure HTTP helpers: header parsing and the numbers we put in headers.

Nothing here touches a request object or the store, so every rule (what a valid
Idempotency-Key is, how RFC 7240 `Prefer` is read, what `Retry-After` to suggest) is a
plain function with unit tests in tests/unit/test_http_helpers.py.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from lro.errors import BadRequest
from lro.models import TERMINAL, Job, Status

MAX_IDEMPOTENCY_KEY = 255
MAX_RETRY_AFTER = 60
"""No poll suggestion is longer than this: a client that slept longer would notice a
finished job too late, and SSE or `?wait` exist for clients that want it sooner."""
MAX_DELTA_SECONDS = 2**31
"""The largest delta-seconds value we read (RFC 9111 §1.2.2); a longer one means as much."""
UNAVAILABLE_RETRY_AFTER = 5
"""Retry-After on 503 answers (store unreachable, shutting down)."""


# -- Idempotency-Key ---------------------------------------------------------------------
def check_idempotency_key(values: list[str]) -> str | None:
    """The key from the request's `Idempotency-Key` header(s), or None when absent.

    Printable ASCII means 0x20-0x7E (VCHAR and space, RFC 5234). Leading and trailing
    blanks are not part of a field value (RFC 9110 §5.5), so they are stripped and a key
    of only blanks is refused as empty. Sending the header twice is ambiguous: refused.
    """
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest("Send the Idempotency-Key header at most once.")
    key = values[0].strip(" \t")
    if not key:
        raise BadRequest("Idempotency-Key must not be empty.")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise BadRequest(
            f"Idempotency-Key is {len(key)} characters long; at most "
            f"{MAX_IDEMPOTENCY_KEY} are allowed."
        )
    if any(not 0x20 <= ord(ch) <= 0x7E for ch in key):
        raise BadRequest("Idempotency-Key must contain printable ASCII characters only.")
    return key


# -- Prefer (RFC 7240) -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Preferences:
    """What a submit's `Prefer` header(s) ask for (RFC 7240 §4.1, §4.3)."""

    wait: int | None = None
    """`wait=N`: hold the request up to N seconds (None: absent or malformed)."""
    respond_async: bool = False
    """`respond-async`: answer 202 at once, whatever the operation would do."""


def parse_prefer(values: Iterable[str]) -> Preferences:
    """The `wait` and `respond-async` preferences of a request (see parse_prefer_wait)."""
    headers = list(values)
    respond_async = any(
        item.split(";", 1)[0].partition("=")[0].strip().lower() == "respond-async"
        for header in headers
        for item in _split_outside_quotes(header, ",")
    )
    return Preferences(wait=parse_prefer_wait(headers), respond_async=respond_async)


def parse_prefer_wait(values: Iterable[str]) -> int | None:
    """The `wait` preference in seconds, or None when absent or malformed.

    RFC 7240: preferences are comma-separated `token [= value] *(; param)`, names are
    case-insensitive, values may be quoted, only the first occurrence of a preference
    counts, and a preference the server cannot understand is ignored, never an error.
    """
    for header in values:
        for item in _split_outside_quotes(header, ","):
            name, _, value = item.split(";", 1)[0].partition("=")
            if name.strip().lower() != "wait":
                continue
            text = value.strip()
            if len(text) >= 2 and text[0] == text[-1] == '"':
                text = text[1:-1].strip()
            # delta-seconds is 1*DIGIT; anything else makes this (first) wait malformed.
            if text.isascii() and text.isdigit():
                # It has no upper bound: like a cache (RFC 9111 §1.2.2), take anything
                # past 2**31 as 2**31 (the wait is capped far below that anyway).
                return MAX_DELTA_SECONDS if len(text) > 10 else min(int(text), MAX_DELTA_SECONDS)
            return None
    return None


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


# -- ETag / If-None-Match ----------------------------------------------------------------
def job_etag(job: Job, prefix: str) -> str:
    """A strong validator for the rendered job resource.

    Every committed change of the row bumps `version`, so id + version identify the
    stored state; the prefix is in because it is part of the rendered URLs. Expiry is
    not: an expired job is never rendered (it answers 410), so it needs no tag of its own.
    """
    digest = hashlib.sha256(f"{job.id}\x1f{job.version}\x1f{prefix}".encode()).hexdigest()
    return f'"{job.version}-{digest[:20]}"'


def etag_matches(if_none_match: Iterable[str], etag: str) -> bool:
    """RFC 9110 §13.1.2: `*` or any listed tag equal by weak comparison (W/ ignored)."""
    wanted = _opaque(etag)
    for header in if_none_match:
        for tag in _split_outside_quotes(header, ","):
            if tag == "*" or _opaque(tag) == wanted:
                return True
    return False


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


# -- Retry-After -------------------------------------------------------------------------
def suggest_retry_after(
    *,
    status: Status,
    estimate: float | None,
    elapsed: float,
    progress_pct: float,
    cancel_requested: bool = False,
    cap: int = MAX_RETRY_AFTER,
) -> int:
    """Seconds a polling client should wait before asking again (always 1..cap).

    The idea: predict the remaining run time and poll about four times over it, so a
    client sees a few progress updates and learns of the end promptly, while a long job
    is not hammered. The remaining time comes from the progress rate once there is some
    progress (it reflects this job's real speed), otherwise from the estimate. With
    neither (no estimate, or a job that overran it) the guess is half the elapsed time:
    the longer a job has run, the longer it is likely to run on.

    `elapsed` is seconds since the job started (processing) or was created (queued).
    """
    if status in TERMINAL or cancel_requested:
        return 1
    elapsed = max(elapsed, 0.0)
    if status is Status.QUEUED:
        # Waiting for a free slot: usually brief, but a long job's queue is usually slow.
        guess = (estimate or 10.0) / 10
        return _clamp(guess, min(cap, 10))
    pct = min(max(progress_pct, 0.0), 100.0)
    if pct >= 5 and elapsed > 0:
        remaining = elapsed * (100 - pct) / pct
    elif estimate is not None and estimate > elapsed:
        remaining = estimate - elapsed
    else:
        remaining = elapsed / 2
    return _clamp(remaining / 4, cap)


def _clamp(seconds: float, cap: int) -> int:
    if math.isnan(seconds):
        return 1
    return int(min(max(math.ceil(seconds), 1), max(cap, 1)))


def job_retry_after(job: Job, now: datetime) -> int:
    start = job.started_at if job.status is Status.PROCESSING and job.started_at else None
    elapsed = (now - (start or job.created_at)).total_seconds()
    return suggest_retry_after(
        status=job.status,
        estimate=job.estimated_duration_seconds,
        elapsed=elapsed,
        progress_pct=job.progress_pct,
        cancel_requested=job.cancel_requested,
    )
