"""Fixtures for worker tests: an LRO on a real SQLite file in tmp_path, with small leases
and no retry delay so every test runs in well under a second of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lro import LRO, Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        result_dir=str(tmp_path / "results"),
        lease_seconds=30,
        progress_flush_seconds=0.02,
        poll_interval_seconds=0.02,
        retry_base_seconds=0,
        shutdown_grace_seconds=5,
        sweep_interval_seconds=3600,
    )


@pytest.fixture
async def lro(tmp_path: Path, settings: Settings) -> AsyncIterator[LRO]:
    app = LRO(store=f"sqlite:///{tmp_path}/lro.db", settings=settings)
    try:
        yield app
    finally:
        await app.stop()
