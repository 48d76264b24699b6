"""Fixtures for the Redis interop tests: a fresh Redis database (tests/support/redis.py),
real `lro serve` / `lro worker` processes of app_interop.py on it, and plain BullMQ
workers (Python here, Node in node/) that know nothing of lro; everything started is
killed at teardown, and its logs are printed then (shown for failed tests only)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.procs import ProcessGroup, base_env
from tests.support.redis import fresh_url

HERE = Path(__file__).resolve().parent
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def redis_url() -> str:
    return fresh_url()


@pytest.fixture
def procs(tmp_path: Path, redis_url: str) -> Iterator[ProcessGroup]:
    env = base_env(
        tmp_path,
        LRO_STORE_URL=redis_url,
        LRO_WEBHOOK_SECRET=SECRET,
        LRO_WEBHOOK_RETRY_SCHEDULE="0.3,0.3,0.3",
        PYTHONPATH=str(HERE),
    )
    group = ProcessGroup(workdir=tmp_path, env=env)
    try:
        yield group
    finally:
        group.close()
        sys.stderr.write(group.logs() + "\n")
