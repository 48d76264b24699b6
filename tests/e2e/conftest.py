"""Fixtures for end-to-end tests: real `lro` processes on a free port, a SQLite file and a
result directory in tmp_path, and a finalizer that always kills what was started."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.procs import ProcessGroup, base_env


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(workdir=tmp_path, env=base_env(tmp_path))
    try:
        yield group
    finally:
        group.close()
        # pytest shows captured teardown output only for failed tests: the process logs
        # are there when they are needed and silent otherwise.
        sys.stderr.write(group.logs() + "\n")
