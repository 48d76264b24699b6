"""Which packages the `lro[server]` extra brings, and the one message for their absence.

`pip install lro` is the client (lro.client and the `lro` job commands); the service
(`from lro import LRO`, `lro serve | worker | migrate`) needs `pip install 'lro[server]'`.
Without it, importing the server side fails on some third-party import deep inside lro;
`lro.__getattr__` and `lro.cli.main` turn that failure into this module's message, naming
the extra, instead of a bare `No module named 'fastapi'`. Imports nothing, so the client
side may use it.
"""

from __future__ import annotations

SERVER_EXTRA = "pip install 'lro[server]'"

SERVER_PACKAGES = frozenset(
    {
        "asyncpg",
        "cronsim",
        "fastapi",
        "prometheus_client",
        "pydantic_settings",
        "sse_starlette",
        "standardwebhooks",
        "starlette",
        "uvicorn",
    }
)
"""Import names of the `server` extra's distributions (pyproject.toml), kept equal to it by
tests/cli/test_client_alone.py."""

BACKEND_PACKAGES = frozenset({"boto3", "botocore", "bullmq", "opentelemetry", "redis"})
"""Import names of the s3, redis and otel extras: server-side too, never the client's."""


def missing_server_package(exc: ImportError) -> str | None:
    """The `server` extra's package whose absence raised `exc`, or None when it was
    something else (the operator's own module, a backend extra, a real bug)."""
    root = (exc.name or "").partition(".")[0]
    return root if isinstance(exc, ModuleNotFoundError) and root in SERVER_PACKAGES else None


def server_missing_message(what: str, package: str) -> str:
    return (
        f"{what} needs the lro server, which is not installed here (no module named "
        f"{package!r}): {SERVER_EXTRA}"
    )
