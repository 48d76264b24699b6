"""The app `make bench-webhooks` runs: one no-op operation; every job carries a callback_url.

`lro worker webhook_app:lro` (run from this directory) loads it like any user app, with its
webhook dispatcher. `make_app(url, dispatch=False)` gives an app whose dispatcher never
starts, so the bench can end jobs in its own process and leave their deliveries pending
in the outbox for a real worker process to send.
"""

from __future__ import annotations

from pydantic import BaseModel

from lro import LRO, JobContext
from lro.config import Settings
from lro.webhooks.dispatcher import Dispatcher

OPERATION = "bench.hook"


class HookParams(BaseModel):
    i: int = -1


class IdleDispatcher(Dispatcher):
    """A dispatcher that never sends: `start()` and `stop()` do nothing."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class BenchLRO(LRO):
    def __init__(
        self, store: str | None = None, *, settings: Settings | None = None, dispatch: bool = True
    ) -> None:
        super().__init__(store, settings=settings)
        self._idle: IdleDispatcher | None = None if dispatch else IdleDispatcher(self)

    def dispatcher(self) -> Dispatcher:
        return self._idle if self._idle is not None else super().dispatcher()


def make_app(
    store: str | None = None, *, settings: Settings | None = None, dispatch: bool = True
) -> BenchLRO:
    app = BenchLRO(store, settings=settings, dispatch=dispatch)

    @app.operation(OPERATION, max_attempts=1, estimated_duration=0.001)
    async def hook(ctx: JobContext, params: HookParams) -> None:
        """Do nothing: the job only exists to end and fire its webhook."""

    return app


lro = make_app()
