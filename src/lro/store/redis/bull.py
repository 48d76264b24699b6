"""BullMQ's side of a new job: the arguments of BullMQ's own add scripts.

A job submitted through lro is added by the script BullMQ's `Queue.add` would run
(addStandardJob, addPrioritizedJob or addDelayedJob, loaded from the installed `bullmq`
package), queued in the same MULTI as lro's insert, so the job is in lro's record and in
BullMQ's queue together or not at all. BullMQ job id = lro job id, name = operation,
data = params, `attempts` = max_attempts, `priority` and `delay` from lro's.
"""

from __future__ import annotations

from typing import Any

import msgpack

from lro.models import NewJob

BULL_PRIORITY_MAX = 2**21
"""BullMQ's highest priority number (its lowest priority)."""


def bull_priority(priority: int) -> int:
    """BullMQ priority for an lro priority. lro: higher runs first, 0 by default; BullMQ:
    0 means none (its wait list, served first by its workers), then 1 is the highest. So
    0 stays 0 and any other p becomes 1000 - p, clamped to BullMQ's range: among
    prioritized jobs a BullMQ worker keeps lro's order."""
    if priority == 0:
        return 0
    return max(1, min(BULL_PRIORITY_MAX, 1000 - priority))


def add_script_call(
    new: NewJob, fields: dict[str, str], bull_prefix: str, queue: str
) -> tuple[str, list[str], list[Any]]:
    """(script name, KEYS, ARGV) for adding `new` to BullMQ as BullMQ itself would."""
    qkey = f"{bull_prefix}:{queue}:"
    created_ms = int(fields["created_at"]) // 1000
    delay_ms = max(0, int(fields["run_at"]) // 1000 - created_ms)
    priority = bull_priority(new.priority)
    opts: dict[str, Any] = {
        "attempts": new.max_attempts,
        "delay": delay_ms,
        "backoff": {"type": "exponential", "delay": 1000},
    }
    if priority:
        opts["priority"] = priority
    packed = msgpack.packb(
        [qkey, new.id, new.operation, created_ms, None, None, None, None, None],
        use_bin_type=True,
    )
    argv = [packed, fields["params"], msgpack.packb(opts, use_bin_type=True), created_ms]

    def keys(*names: str) -> list[str]:
        return [qkey + n for n in names]

    if delay_ms > 0:
        return (
            "addDelayedJob",
            keys("marker", "meta", "id", "delayed", "completed", "events"),
            argv,
        )
    if priority:
        return (
            "addPrioritizedJob",
            keys(
                "marker",
                "meta",
                "id",
                "prioritized",
                "delayed",
                "completed",
                "active",
                "events",
                "pc",
            ),
            argv,
        )
    return (
        "addStandardJob",
        keys("wait", "paused", "meta", "id", "completed", "delayed", "active", "events", "marker"),
        argv,
    )
