"""The HTTP ceiling `make bench` sets lro beside: a bare FastAPI route on the same server.

The route is the peer harness's (`shared/bench-peers/http_app.py`): `GET /jobs/{job_id}`
answering a small fixed JSON with no storage access, so its rate is the framework's cost
alone. It is served the way `lro serve` serves lro (`serve_like_lro`): uvicorn with lro's
HTTP protocol class (httptools), uvloop, no uvicorn logging config of its own and lro's log
handler (`lro.logs.configure`), access log on or off, so a ratio between the two measures
lro's own cost and nothing of the server's set-up.

    python bench/bare_app.py PORT [--no-access-log] [--log-level info]
"""

from __future__ import annotations

import argparse
import os

from fastapi import FastAPI

app = FastAPI()


@app.get("/jobs/{job_id}")
async def job_status(job_id: str) -> dict[str, object]:
    return {"id": job_id, "status": "running", "progress": 0.5}


def serve_like_lro(port: int, access_log: bool, log_level: str) -> None:
    """uvicorn.run with the settings of `lro serve` (lro.cli.server.cmd_serve)."""
    import uvicorn

    from lro import logs
    from lro.config import Settings
    from lro.http_server import protocol_class

    settings = Settings()
    logs.configure(log_level, logs.log_format(os.environ.get("LRO_LOG_FORMAT")))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        http=protocol_class(settings.headers_timeout_seconds),
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        log_config=None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    serve_like_lro(args.port, args.access_log, args.log_level)


if __name__ == "__main__":
    main()
