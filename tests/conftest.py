"""tests/ is not a package: make `tests.*` importable whichever directory pytest starts in.

pytest loads this conftest before the ones below it and before any test module, whether it
runs the whole suite, one directory (`pytest tests/api`) or one file, from the repository
root or from inside tests/; so this is the one place that needs to say it.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


import pytest  # noqa: E402  (after the path set-up above)

SLOW_SUITES = frozenset({"e2e", "e2e_postgres", "redis_interop", "reliability"})
"""Suites of real processes that are started, killed and waited on. In `make test` only
their tests marked `smoke` run (a bounded sample: one test per promise they guard); the
rest are marked `slow` here and run in `make test-slow` / `make test-all` (the reliability
suite's long scenarios keep their own `reliability` mark and target). The split lives in
one place, so a new test in these folders is slow unless it says otherwise."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by the marks added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parent
    for item in items:
        try:
            suite = item.path.resolve().relative_to(root).parts[0]
        except ValueError:
            continue
        if suite in SLOW_SUITES and item.get_closest_marker("smoke") is None:
            item.add_marker(pytest.mark.slow)
