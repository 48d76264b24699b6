"""`lro wait` (and `lro submit --wait`): follow a job to its end, then say how it ended.

Three followers share one interface (`update(job)` for every change the client reports):
a rich progress bar on a terminal, one plain line per visible change when stdout is a pipe
(`45% rendering rows 41-50`), and silence in `--json` mode, which prints only the final
resource. The exit status tells a script how the job ended (see `Exit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskProgressColumn
from rich.text import Text

from lro.cli.jobs import describe
from lro.cli.jobs.exits import Exit
from lro.cli.jobs.output import Output
from lro.client import Client, JobResource, Partial, WaitTimeout


def exit_for(job: JobResource) -> Exit:
    return {"completed": Exit.OK, "cancelled": Exit.CANCELLED}.get(job.status, Exit.FAILED)


class _JobColumn(ProgressColumn):
    """Base of the columns that read the job resource stored in the task's fields."""

    @staticmethod
    def job(task: Task) -> JobResource | None:
        job = task.fields.get("job")
        return job if isinstance(job, JobResource) else None


class ElapsedColumn(_JobColumn):
    """Time since submission by the job's clock, not since this command started."""

    def render(self, task: Task) -> Text:
        job = self.job(task)
        seconds = describe.elapsed_seconds(job, describe.now_utc()) if job else None
        return Text(describe.clock(seconds), style="progress.elapsed")


class EtaColumn(_JobColumn):
    """Remaining time from the job's own progress rate (see `describe.eta_seconds`)."""

    def render(self, task: Task) -> Text:
        job = self.job(task)
        if job is None or job.is_terminal:
            return Text("")
        eta = describe.eta_seconds(job, describe.now_utc())
        return Text(f"ETA {describe.clock(eta)}", style="progress.remaining")


class StepColumn(_JobColumn):
    """Last, so a step text that changes length does not shift the bar about."""

    def render(self, task: Task) -> Text:
        job = self.job(task)
        if job is None:
            return Text("")
        return Text(describe.activity(job), style=describe.STATUS_STYLES.get(job.status, ""))


class Follower:
    """Silent: keeps the latest resource (for the --json document on timeout)."""

    def __init__(self, job: JobResource) -> None:
        self.last = job

    def update(self, job: JobResource) -> None:
        self.last = job

    def __enter__(self) -> Follower:
        self.update(self.last)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class PlainFollower(Follower):
    """One line per change a reader can see: the rounded percentage or the step text."""

    def __init__(self, job: JobResource, out: Output) -> None:
        super().__init__(job)
        self.out = out
        self.shown: str | None = None

    def update(self, job: JobResource) -> None:
        super().update(job)
        text = f"{describe.percent(job)} {describe.activity(job)}"
        if text != self.shown:
            self.shown = text
            self.out.line(text)


class BarFollower(Follower):
    """rich's live bar: percentage, elapsed, ETA, step; redrawn at once on every change and
    ten times a second in between so the clocks tick."""

    def __init__(self, job: JobResource, out: Output) -> None:
        super().__init__(job)
        self.progress = Progress(
            BarColumn(bar_width=None, complete_style="cyan", finished_style="green"),
            TaskProgressColumn(),
            ElapsedColumn(),
            EtaColumn(),
            StepColumn(),
            console=out.console,
            expand=True,
        )
        self.task = self.progress.add_task("job", total=100, job=job)

    def update(self, job: JobResource) -> None:
        super().update(job)
        pct = float(job.progress_pct or 0)
        self.progress.update(self.task, completed=pct, job=job, refresh=True)

    def __enter__(self) -> Follower:
        self.progress.start()
        return super().__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()


def follower_for(job: JobResource, out: Output) -> Follower:
    if out.json:
        return Follower(job)
    return BarFollower(job, out) if out.tty else PlainFollower(job, out)


def report_outcome(job: JobResource, out: Output, base_url: str, url_option: str) -> None:
    """How the job ended: headline, then the result location or the error explained."""
    if out.json:
        out.document(job)
        return
    headline, style = describe.outcome_headline(job, describe.now_utc())
    out.line(headline, style)
    out.rows(describe.outcome_rows(job, base_url, url_option), indent="  ")


def follow(
    client: Client,
    job: JobResource,
    out: Output,
    *,
    timeout: float | None,
    started: float,
    base_url: str,
    url_option: str,
    on_partial: Callable[[Partial], object] | None = None,
) -> Exit:
    """Follow `job` until it ends (or Ctrl-C, or `timeout` seconds after the monotonic
    time `started`, so the requests made before count) and report; returns the status.
    A job that is already terminal (a submit answered 200) is only reported."""
    hint = f"lro wait {job.job_id}{url_option}"
    # Printing partials on a pipe: they are the data, so no progress lines between them.
    follower = Follower(job) if on_partial is not None and out.plain else follower_for(job, out)
    left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
    try:
        with follower:
            final = job
            if not job.is_terminal or on_partial is not None:  # partials: all of them
                final = client.wait(
                    job.job_id, on_progress=follower.update, on_partial=on_partial, timeout=left
                )
                follower.update(final)
    except WaitTimeout as exc:
        last = exc.last or follower.last
        if out.json:
            out.document(last)
        out.error(
            f"job {last.job_id} still {last.status} at {describe.percent(last)} after "
            f"{describe.duration(timeout or 0)} (--timeout); it goes on: {hint}"
        )
        return Exit.TIMEOUT
    except KeyboardInterrupt:
        out.error(f"stopped following job {job.job_id}; it goes on: {hint}")
        return Exit.INTERRUPTED
    report_outcome(final, out, base_url, url_option)
    return exit_for(final)
