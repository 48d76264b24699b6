"""Words for a job: durations, ages, the ETA, the status summary, the error explained and
the outcome. Pure functions of a job resource and a clock, shared by the terminal (rich)
and plain renderings so both always say the same thing.

A row is `(label, text, style)`; the renderer decides whether the style becomes colour.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lro.client import JobResource

Row = tuple[str, str, str]

STATUS_STYLES = {
    "queued": "yellow",
    "processing": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def now_utc() -> datetime:
    return datetime.now(UTC)


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def duration(seconds: float) -> str:
    """Short human durations: `0.4s`, `12s`, `3m 05s`, `2h 10m`, `3d 4h`."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def clock(seconds: float | None) -> str:
    """`h:mm:ss` for the progress bar's columns, `-:--:--` when unknown (as rich does)."""
    if seconds is None:
        return "-:--:--"
    whole = max(0, round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def age(when: datetime, now: datetime) -> str:
    delta = (now - when).total_seconds()
    if delta >= 0:
        return f"{duration(delta)} ago"
    return f"in {duration(-delta)}"


def iso(when: datetime) -> str:
    """RFC 3339 in UTC to the second, as the server writes it."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def timestamp(when: datetime, now: datetime) -> str:
    return f"{iso(when)} ({age(when, now)})"


def eta_seconds(job: JobResource, now: datetime) -> float | None:
    """Seconds until the job should finish, or None when there is nothing to go on.

    The job's own rate comes first: it took `updated_at - started_at` to reach
    `progress_pct`, so it needs that much again per the same share of the rest. Before any
    progress, the server's `estimated_duration_seconds` (refined from recent runs of the
    operation) minus the time already spent running. Never negative: a job past its
    estimate is "due now", not "due two seconds ago".
    """
    if job.is_terminal:
        return None
    pct = float(job.progress_pct or 0)
    if pct >= 100:
        return 0.0
    started = job.started_at
    if started is not None and 0 < pct < 100:
        ran = seconds_between(started, job.updated_at or now)
        if ran:
            total = ran * 100 / pct
            return max(0.0, total - (seconds_between(started, now) or 0.0))
    estimate = job.estimated_duration_seconds
    if estimate is None:
        return None
    spent = seconds_between(started, now) if started is not None else 0.0
    return max(0.0, float(estimate) - (spent or 0.0))


def elapsed_seconds(job: JobResource, now: datetime) -> float:
    """Since the job was submitted (queueing included: that is what the person waited)."""
    end = job.finished_at if job.is_terminal and job.finished_at else now
    return seconds_between(job.created_at, end) or 0.0


def percent(job: JobResource) -> str:
    return f"{float(job.progress_pct or 0):.0f}%"


def activity(job: JobResource) -> str:
    """What the job is doing, in a few words: its step, else its status, plus the attempt
    when it is not the first and a pending cancellation."""
    text = job.step or job.status
    if job.attempt > 1 and not job.is_terminal:
        text = f"{text} (attempt {attempts(job.attempt, job.max_attempts)})"
    if job.cancel_requested and not job.is_terminal:
        text = f"{text}, cancelling"
    return text


def attempts(used: int, most: int | None) -> str:
    return f"{used} of {most}" if most else str(used)


def result_hint(job_id: str, url_option: str) -> str:
    return f"lro result {job_id} -o FILE{url_option}"


def error_rows(job: JobResource) -> list[Row]:
    """The failure explained: what went wrong, why, and whether trying again can help."""
    error = job.error
    if error is None:
        return [("error", "the job failed without an error description", "red")]
    used = error.attempts if error.attempts is not None else job.attempt
    retry = (
        "yes: the cause may be temporary, submitting again can succeed"
        if error.retryable
        else "no: the same request will fail again; change it before resubmitting"
    )
    rows: list[Row] = [("error", error.title or "the job failed", "bold red")]
    if error.detail:
        rows.append(("detail", error.detail, ""))
    if error.code:
        rows.append(("code", error.code, ""))
    rows.append(("retryable", retry, ""))
    rows.append(("attempts", attempts(used, job.max_attempts), ""))
    return rows


def result_rows(job: JobResource, base_url: str, url_option: str) -> list[Row]:
    rows: list[Row] = []
    if job.result is not None:
        rows.append(("value", json.dumps(job.result), ""))
    if job.result_url:
        location = job.result_url
        if location.startswith("/"):
            location = base_url + location
        rows.append(("result", location, "bold"))
        rows.append(("download", result_hint(job.job_id, url_option), ""))
    return rows


def outcome_headline(job: JobResource, now: datetime) -> tuple[str, str]:
    """One line saying how the job ended (or where it is), with its style."""
    took = duration(elapsed_seconds(job, now))
    if job.status == "completed":
        return f"completed in {took}", "bold green"
    if job.status == "failed":
        return f"failed after {took} at {percent(job)}", "bold red"
    if job.status == "cancelled":
        return f"cancelled after {took} at {percent(job)} ({job.step or 'no step'})", "magenta"
    return f"{job.status} {percent(job)} {activity(job)}", STATUS_STYLES.get(job.status, "")


def outcome_rows(job: JobResource, base_url: str, url_option: str) -> list[Row]:
    if job.status == "completed":
        return result_rows(job, base_url, url_option)
    if job.status == "failed":
        return error_rows(job)
    return []


def summary_rows(job: JobResource, base_url: str, url_option: str, now: datetime) -> list[Row]:
    """`lro status`: everything a person asks about one job, terminal or not."""
    pending_cancel = job.cancel_requested and not job.is_terminal
    status = job.status + (", cancel requested" if pending_cancel else "")
    rows: list[Row] = [
        ("job", job.job_id, "bold"),
        ("operation", job.operation or "?", ""),
        ("status", status, "bold " + STATUS_STYLES.get(job.status, "")),
        ("progress", f"{percent(job)} {job.step or ''}".rstrip(), ""),
        ("attempt", attempts(job.attempt, job.max_attempts), ""),
    ]
    for label, when in (
        ("created", job.created_at),
        ("started", job.started_at),
        ("finished", job.finished_at),
        ("expires", job.expires_at),
    ):
        if when is not None:
            rows.append((label, timestamp(when, now), "dim" if label == "expires" else ""))
    ran = seconds_between(job.started_at, job.finished_at)
    if ran is not None:
        rows.append(("ran", duration(ran), ""))
    if not job.is_terminal:
        eta = eta_seconds(job, now)
        rows.append(("eta", "unknown" if eta is None else f"about {duration(eta)}", ""))
        rows.append(("follow", f"lro wait {job.job_id}{url_option}", "dim"))
    return rows + outcome_rows(job, base_url, url_option)
