"""Who is calling: the one place the API asks for the caller's identity.

Every route takes its owner from `principal`, and the store scopes jobs, lists and
idempotency keys by it. Auth is off for now, so everyone is the anonymous principal "";
the auth issue replaces this function (API keys -> principal, 401 otherwise) without
touching any route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

ANONYMOUS = ""


async def principal(request: Request) -> str:
    """The caller's principal, used as the owner of the jobs it submits and sees."""
    return ANONYMOUS


Owner = Annotated[str, Depends(principal)]
