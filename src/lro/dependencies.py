"""`depends_on` and `dependency_policy` of a submit (HTTP-CONTRACT §17), checked the same
way for a single submit, a batch item and the Python API: each entry is a job id of the
caller's (or, in a batch, the `ref` of an earlier item), and anything else is a 422 that
names it by JSON Pointer. What the store then does with them: `lro.store.depends`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lro.errors import Unprocessable
from lro.models import utcnow

if TYPE_CHECKING:
    from lro.runtime import Runtime

MAX_DEPENDENCIES = 1000
POLICIES = ("always",)


def _refuse(pointer: str, detail: str) -> Unprocessable:
    return Unprocessable(
        f"{pointer}: {detail}",
        extensions={"errors": [{"pointer": pointer, "detail": detail, "type": "value_error"}]},
    )


def check_policy(policy: Any, prefix: str = "") -> str | None:
    if policy is None:
        return None
    if isinstance(policy, str) and policy in POLICIES:
        return policy
    raise _refuse(f"{prefix}/dependency_policy", 'the only policy is "always" (or none)')


async def check_dependencies(
    lro: Runtime,
    depends_on: Any,
    owner: str,
    prefix: str = "",
    refs: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """The job ids `depends_on` names, in order without repeats; refs (a batch's earlier
    items) become their job ids. Unknown, someone else's or expired ids are refused:
    cycles cannot arise, since only existing jobs and earlier items can be named."""
    if depends_on is None:
        return ()
    where = f"{prefix}/depends_on"
    if not isinstance(depends_on, list | tuple):
        raise _refuse(where, "depends_on must be a list of job ids (or refs of earlier jobs)")
    if len(depends_on) > MAX_DEPENDENCIES:
        raise _refuse(where, f"at most {MAX_DEPENDENCIES} dependencies are allowed")
    now = utcnow()
    ids: list[str] = []
    for i, entry in enumerate(depends_on):
        at = f"{where}/{i}"
        if not isinstance(entry, str) or not entry or "\x00" in entry or len(entry) > 200:
            raise _refuse(at, "a job id (or the ref of an earlier job of the batch)")
        if refs is not None and entry in refs:
            ids.append(refs[entry])
            continue
        job = await lro.store.get_job(entry)
        if job is None or job.owner != owner or job.is_expired(now):
            raise _refuse(at, f"there is no job {entry!r} (nor an earlier job with that ref)")
        ids.append(job.id)
    return tuple(dict.fromkeys(ids))
