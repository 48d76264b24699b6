"""The API with a real embedded worker, started by the app's lifespan: a submit with
`Prefer: wait` comes back completed, and the result is downloadable."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.api.helpers import PREFIX, make_lro


async def test_embedded_worker_runs_jobs(tmp_path: Path) -> None:
    lro = make_lro(tmp_path)
    app = lro.create_app(embedded_worker=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            r = await c.post(
                f"{PREFIX}/echo", json={"text": "ab", "count": 2}, headers={"Prefer": "wait=5"}
            )
            assert r.status_code == 200, r.text
            assert r.headers["preference-applied"] == "wait=5"
            body = r.json()
            assert body["status"] == "completed"
            assert body["result"] == {"text": "abab"}
            result = await c.get(body["result_url"])
            assert result.status_code == 200
            assert result.json() == {"text": "abab"}
