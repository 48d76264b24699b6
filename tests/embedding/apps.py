"""One LRO embedded four ways, for tests/embedding: each test module serves one of these
with a real uvicorn and runs `lro worker tests.embedding.apps:lro` beside it.

    plain     FastAPI() + include_router(lro.router) + include_router(lro.operator_router)
    prefixed  the same with prefix="/jobs-api" on both
    mounted   a Starlette app with lro.create_app() mounted at /jobsvc
    created   lro.create_app() itself

`late` is registered after all four were built: it must still get its route everywhere.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.routing import Mount

from lro import LRO, File, JobContext

lro = LRO()


class EchoParams(BaseModel):
    text: str = Field(min_length=1, max_length=100)


class LinesParams(BaseModel):
    lines: int = Field(ge=1, le=100_000)


@lro.operation("echo", route="/echo", estimated_duration=1)
async def echo(ctx: JobContext, params: EchoParams) -> dict[str, str]:
    await ctx.progress(50, "echoing")
    return {"echo": params.text}


@lro.operation("lines", route="/lines", estimated_duration=1)
async def lines(ctx: JobContext, params: LinesParams) -> File:
    path = ctx.result_path("lines.txt")
    path.write_text("".join(f"line {i}\n" for i in range(1, params.lines + 1)))
    return File(path, content_type="text/plain")


@lro.operation("hold", route="/hold", estimated_duration=60)
async def hold(ctx: JobContext) -> None:
    """Runs until cancelled: a job that stays processing for as long as a test needs."""
    while True:
        await ctx.progress(1, "holding")
        await asyncio.sleep(0.05)


plain = FastAPI()
plain.include_router(lro.router)
plain.include_router(lro.operator_router)

prefixed = FastAPI()
prefixed.include_router(lro.router, prefix="/jobs-api")
prefixed.include_router(lro.operator_router, prefix="/jobs-api")

mounted = Starlette(routes=[Mount("/jobsvc", app=lro.create_app())])

created = lro.create_app()


@lro.operation("late", route="/late", estimated_duration=1)
async def late(ctx: JobContext, params: EchoParams) -> dict[str, str]:
    return {"late": params.text}
