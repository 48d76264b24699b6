"""How a scenario names the backends it runs on, and what it expects on each.

    @backends()                                           # both, must pass
    @backends(sqlite=na("SQLite has one machine and one clock"))
    @backends(postgres=defect("a NUL in params answers 500"))

`na(why)` skips that backend, with the one-line reason in the table. `defect(why)` marks a
scenario that exposes a known defect: it must fail (xfail, strict), so the suite stays
green until the fix lands, and turns red (XPASS) the day it is fixed, to have the mark
removed. `reliability` marks the long scenarios, left out of the default `make test`.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest import MarkDecorator

reliability = pytest.mark.reliability
"""Long scenarios: `make test-reliability` runs them, the default run leaves them out."""


def na(why: str) -> MarkDecorator:
    return pytest.mark.skip(reason=f"n/a: {why}")


def defect(why: str) -> MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=why)


def backends(
    *, sqlite: MarkDecorator | None = None, postgres: MarkDecorator | None = None
) -> MarkDecorator:
    """Parametrise the scenario's `backend` fixture over SQLite and PostgreSQL."""

    def param(name: str, mark: MarkDecorator | None, *extra: MarkDecorator) -> Any:
        marks = [*extra, *([mark] if mark is not None else [])]
        return pytest.param(name, marks=marks, id=name)

    return pytest.mark.parametrize(
        "backend",
        [param("sqlite", sqlite), param("postgres", postgres, pytest.mark.postgres)],
        indirect=True,
    )
