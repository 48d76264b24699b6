"""`t.client`: HTTP-level tests in process, against `lro.create_app()` or the user's own
app, on the harness's store and worker."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel

from lro import LRO, JobContext
from lro.testing import run


class Greeting(BaseModel):
    name: str


def greeter() -> LRO:
    app = LRO()

    @app.operation("greet", route="/greetings")
    async def greet(ctx: JobContext, params: Greeting) -> dict[str, str]:
        return {"text": f"hello {params.name}"}

    @app.operation("greet.now", route="/greetings-now", respond_within=30)
    async def greet_now(ctx: JobContext, params: Greeting) -> dict[str, str]:
        return {"text": f"hello {params.name}"}

    return app


async def test_a_submit_over_http_runs_when_asked(tmp_path: Path) -> None:
    async with run(greeter(), path=tmp_path) as t:
        accepted = await t.client.post("/api/v1/greetings", json={"name": "ada"})
        assert accepted.status_code == 202, accepted.text
        assert accepted.headers["location"] == accepted.json()["poll_url"]
        job_id = accepted.json()["job_id"]
        assert (await t.client.get(f"/api/v1/jobs/{job_id}")).json()["status"] == "queued"
        await t.run_until_idle()
        polled = (await t.client.get(f"/api/v1/jobs/{job_id}")).json()
        result = await t.client.get(polled["result_url"])
    assert (polled["status"], polled["result"]) == ("completed", {"text": "hello ada"})
    assert result.json() == {"text": "hello ada"}


async def test_a_held_submit_is_answered_by_a_background_worker(tmp_path: Path) -> None:
    async with run(greeter(), path=tmp_path) as t, t.background_worker():
        answer = await t.client.post("/api/v1/greetings-now", json={"name": "bob"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == {"text": "hello bob"}


async def test_the_client_can_speak_to_the_users_own_app(tmp_path: Path) -> None:
    lro = greeter()
    shop = FastAPI()
    shop.include_router(lro.router, prefix="/shop")

    @shop.get("/hello")
    async def hello() -> dict[str, str]:
        return {"from": "the shop"}

    async with run(lro, path=tmp_path, asgi=shop) as t:
        assert (await t.client.get("/hello")).json() == {"from": "the shop"}
        accepted = await t.client.post("/shop/api/v1/greetings", json={"name": "cy"})
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["poll_url"].startswith("/shop/api/v1/jobs/")
        await t.run_until_idle()
        assert (await t.job(accepted.json()["job_id"])).result == {"text": "hello cy"}
