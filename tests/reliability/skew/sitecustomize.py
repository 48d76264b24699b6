"""A wrong wall clock for one process: put this directory first on PYTHONPATH and set
LRO_TEST_CLOCK_SKEW_SECONDS (e.g. 300 for five minutes fast, -300 for five slow).

Python imports `sitecustomize` at start-up, before any application code, so every module
that later does `from datetime import datetime` or calls `time.time()` sees the skewed
clock: `time.time`, `time.time_ns`, `datetime.now`, `datetime.utcnow` and
`datetime.today` are shifted. `time.monotonic` is left alone (the machine's one interval
clock, which the run log compares across processes), as a machine with a wrong clock
would have it.
"""

from __future__ import annotations

import datetime as _datetime
import os
import time as _time

SKEW = float(os.environ.get("LRO_TEST_CLOCK_SKEW_SECONDS", "0") or 0)

if SKEW:
    _real_time = _time.time
    _real_time_ns = _time.time_ns
    _delta = _datetime.timedelta(seconds=SKEW)

    def _time_skewed() -> float:
        return _real_time() + SKEW

    def _time_ns_skewed() -> int:
        return _real_time_ns() + int(SKEW * 1e9)

    _time.time = _time_skewed
    _time.time_ns = _time_ns_skewed

    _Real = _datetime.datetime

    class _SkewedDatetime(_Real):
        __slots__ = ()  # the same size as datetime: C extensions check it on import

        @classmethod
        def now(cls, tz: _datetime.tzinfo | None = None) -> _SkewedDatetime:
            return super().now(tz) + _delta

        @classmethod
        def utcnow(cls) -> _SkewedDatetime:
            return super().now(_datetime.UTC).replace(tzinfo=None) + _delta

        @classmethod
        def today(cls) -> _SkewedDatetime:
            return cls.now()

    _SkewedDatetime.__name__ = "datetime"
    _SkewedDatetime.__qualname__ = "datetime"
    _datetime.datetime = _SkewedDatetime  # type: ignore[misc]
