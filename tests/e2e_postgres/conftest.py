"""Fixtures for the PostgreSQL end-to-end tests: a fresh database per test and a cluster of
real `lro serve` / `lro worker` processes on it, always killed at teardown (their logs are
printed then, which pytest shows for failed tests only)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.e2e_postgres.helpers import Cluster
from tests.support.postgres import (
    ADMIN_URL,
    create_database,
    drop_database,
)
from tests.support.tcpproxy import TcpProxy


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The name of a fresh, migrated database, dropped afterwards (skipped, or failed in
    CI, when PostgreSQL is unreachable)."""
    name = asyncio.run(create_database())
    try:
        yield name
    finally:
        asyncio.run(drop_database(name))


@pytest.fixture
def cluster(tmp_path: Path, pg_database: str) -> Iterator[Cluster]:
    """Processes on `pg_database`; torn down before the database is dropped."""
    c = Cluster(tmp_path, pg_database)
    try:
        yield c
    finally:
        c.close()
        sys.stderr.write(c.group.logs() + "\n")


@pytest.fixture
def pg_proxy() -> Iterator[TcpProxy]:
    """A switchable TCP proxy in front of the PostgreSQL server: outages are simulated by
    switching it off, never by touching the server."""
    server = urlsplit(ADMIN_URL)
    with TcpProxy(server.port or 5432, server.hostname or "127.0.0.1") as proxy:
        yield proxy
