"""Token-bucket arithmetic shared by both backends' `Limits` (the SQL does the taking)."""

from __future__ import annotations


def wait_seconds(available: float | None, *, rate: float, burst: float, cost: float) -> float:
    """Seconds until `cost` tokens exist, given `available` now (None: a bucket never used,
    which is full). At least a millisecond, so a denial never reads as a grant."""
    have = burst if available is None else available
    if rate <= 0:
        return float("inf")
    return max((cost - have) / rate, 0.001)
