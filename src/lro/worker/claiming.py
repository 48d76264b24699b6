"""What a worker claims: the operations of the queues it serves, split between the plain
claim and the limited one (HTTP-CONTRACT §13; lro.limits, `Store.workload`).

Why a split: a limited operation's jobs carry a concurrency key and only the store's
limited claim takes them, counting in the same transaction; everything else keeps the
one-statement claim (and, on PostgreSQL, the direct hand-off) it had. When a worker has
both, the two take turns going first, so neither kind can take every free slot claim
after claim.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace

from lro.models import Job
from lro.operations import Operation
from lro.store.base import ClaimParams, LimitedOperation, Store, workload_of

PlainClaim = Callable[[ClaimParams], Awaitable[list[Job]]]


def parse_queues(spec: str | Sequence[str] | None) -> frozenset[str] | None:
    """`"media,default"` (LRO_QUEUES, --queues) -> {"media", "default"}; empty: None
    (every queue of the app)."""
    if spec is None:
        return None
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    queues = frozenset(n.strip() for n in names if n.strip())
    return queues or None


def served_operations(
    operations: Mapping[str, Operation], queues: frozenset[str] | None
) -> dict[str, Operation]:
    """The operations of these queues (all of them when None); ValueError when a queue
    is named that no operation uses, since such a worker would wait forever."""
    if queues is None:
        return dict(operations)
    known = {op.limits.queue for op in operations.values()}
    unknown = sorted(queues - known)
    if unknown:
        raise ValueError(
            f"no operation of this app uses queue(s) {', '.join(unknown)}; "
            f"its queues: {', '.join(sorted(known)) or '(none)'}"
        )
    return {n: op for n, op in operations.items() if op.limits.queue in queues}


def limited_spec(op: Operation) -> LimitedOperation:
    return LimitedOperation.declared(op.name, op.limits)


class ClaimPlan:
    """The claims of one worker (see the module docstring)."""

    def __init__(self, store: Store, operations: Mapping[str, Operation]) -> None:
        self.plain = sorted(n for n, op in operations.items() if not op.limits.held_in_claim)
        self.limited = [
            limited_spec(op) for _, op in sorted(operations.items()) if op.limits.held_in_claim
        ]
        self._store = store
        self._limited_first = False

    async def adopt(self) -> int:
        """Re-key the queued jobs of operations whose limits changed since they were
        submitted, so each kind of claim finds its own (`Workload.adopt`)."""
        workload = workload_of(self._store)
        if workload is None:
            return 0
        changed = 0
        for name in self.plain:
            changed += await workload.adopt(name, limited=False)
        for spec in self.limited:
            changed += await workload.adopt(spec.operation, limited=True)
        return changed

    @property
    def operations(self) -> list[str]:
        return sorted([*self.plain, *(s.operation for s in self.limited)])

    async def claim(self, params: ClaimParams, plain: PlainClaim) -> list[Job]:
        """Claim up to `params.limit` jobs: the plain claim (`plain`, for the plain
        operations) and the limited one, in turns."""
        workload = workload_of(self._store)
        if not self.limited or workload is None:
            return await plain(replace(params, operations=self.plain))
        if not self.plain:
            return await workload.claim_limited(params, self.limited)
        self._limited_first = not self._limited_first
        if self._limited_first:
            jobs = await workload.claim_limited(params, self.limited)
            if len(jobs) < params.limit:
                jobs += await plain(
                    replace(params, limit=params.limit - len(jobs), operations=self.plain)
                )
            return jobs
        jobs = await plain(replace(params, operations=self.plain))
        if len(jobs) < params.limit:
            jobs += await workload.claim_limited(
                replace(params, limit=params.limit - len(jobs)), self.limited
            )
        return jobs


__all__ = ["ClaimPlan", "limited_spec", "parse_queues", "served_operations"]
