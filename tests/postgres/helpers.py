"""Shared bits of the PostgreSQL tests: a fixed clock and job builders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from lro.models import NewJob

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_jobs(count: int, **fields: Any) -> list[NewJob]:
    fields.setdefault("operation", "op")
    fields.setdefault("params", {"n": 1})
    return [NewJob(id=str(uuid.uuid4()), **fields) for _ in range(count)]
