"""lro.testing: test your own operations on a real lro, without patching anything.

    from lro.testing import run

    async def test_report(tmp_path):
        async with run(lro, path=tmp_path) as t:        # your LRO, on a temporary store
            job = await t.submit("reports.generate", {"rows": 3}, callback_url=t.webhooks.url)
            await t.run_until_idle()                      # the worker, until nothing is left
            assert (await t.job(job.id)).status == "completed"
            [hook] = await t.webhooks.wait_for(1)         # a real HTTP delivery, signed
            assert hook.verify()["type"] == "job.completed"

`run(lro)` gives a `Harness`: your LRO object on a fresh SQLite database and result
directory (restored when the block ends), a worker that runs only when asked
(`run_until_idle()`, or `background_worker()` for a block), a loopback webhook receiver
(`webhooks`), the store's view of jobs and their events, and an httpx client on the app
(`client`). docs/testing.md has the whole story.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any

from lro.testing.harness import DEFAULT_TIMEOUT, Harness, NotIdle
from lro.testing.receiver import ReceivedWebhook, WebhookReceiver

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from lro.app import LRO


def run(
    lro: LRO,
    *,
    path: str | PathLike[str] | None = None,
    concurrency: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
    settings: Mapping[str, Any] | None = None,
    asgi: ASGIApp | None = None,
) -> Harness:
    """`async with run(lro) as t:` runs `lro` on a temporary store for the block.

    `path`: where to make the run's directory (pytest's `tmp_path` keeps it for a look
    after a failure); a temporary directory, removed afterwards, by default.
    `concurrency`: worker slots; 1 runs jobs one at a time in queue order, so a run
    repeats exactly. `timeout`: the bound on every wait. `settings`: more `Settings`
    fields for this run, over the harness's own. `asgi`: your own app (one that includes
    `lro.router`) for `t.client`, instead of `lro.create_app()`.
    """
    return Harness(
        lro, path=path, concurrency=concurrency, timeout=timeout, settings=settings, asgi=asgi
    )


__all__ = ["Harness", "NotIdle", "ReceivedWebhook", "WebhookReceiver", "run"]
