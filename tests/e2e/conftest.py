"""Fixtures for end-to-end tests: real `lro` processes on a free port, a SQLite file and a
result directory in tmp_path, and a finalizer that always kills what was started."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/ is not a package; make `tests.support` importable however pytest was started.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.support.procs import ProcessGroup, base_env  # noqa: E402


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
