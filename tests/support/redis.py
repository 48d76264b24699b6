"""Redis for tests: one database number per test run, emptied before each test.

The server comes from `LRO_TEST_REDIS_URL` (default: the local server, 127.0.0.1:6379).
A run claims a free database number (1-15: a claim key set with NX in it, renewed after
each flush) and only ever flushes that one, so runs side by side and whatever else uses
database 0 are left alone. When the server cannot be reached, tests fail in CI
(`CI=true`) and are skipped with a message on a developer machine.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

BASE_URL = os.environ.get("LRO_TEST_REDIS_URL", "redis://127.0.0.1:6379")
CLAIM_KEY = "lro_test:claimed_by"

_state: dict[str, object] = {"db": None, "unreachable": None}


def url_for(db: int, base: str = BASE_URL) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{db}"))


def _unreachable(reason: str) -> None:
    message = (
        f"Redis not reachable at {BASE_URL} ({reason}); start redis-server or set "
        f"LRO_TEST_REDIS_URL to run the redis tests"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _claim() -> int:
    if _state["unreachable"] is not None:
        _unreachable(str(_state["unreachable"]))
    if isinstance(_state["db"], int):
        return _state["db"]
    marker = f"{os.getpid()}"
    for db in range(1, 16):
        try:
            client = redis.Redis.from_url(url_for(db), socket_timeout=3)
            with contextlib.closing(client):
                if client.set(CLAIM_KEY, marker, nx=True, ex=6 * 3600):
                    _state["db"] = db
                    atexit.register(_release, db)
                    return db
        except (redis.RedisError, OSError) as exc:
            _state["unreachable"] = repr(exc)
            _unreachable(repr(exc))
    _unreachable("every database 1-15 is claimed by another test run")
    raise AssertionError("unreachable")


def _release(db: int) -> None:
    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(url_for(db), socket_timeout=3)
        with contextlib.closing(client):
            client.flushdb()


def fresh_url() -> str:
    """The run's database, emptied now (and still claimed), as a redis:// URL."""
    db = _claim()
    client = redis.Redis.from_url(url_for(db), socket_timeout=5)
    with contextlib.closing(client):
        client.flushdb()
        client.set(CLAIM_KEY, str(os.getpid()), ex=6 * 3600)
    return url_for(db)


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    yield fresh_url()
