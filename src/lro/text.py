"""U+0000 (NUL) in text that lro stores: refused on the way in, replaced on the way out.

PostgreSQL cannot hold it in `text` or `jsonb` (SQLite can), so without one rule the same
valid JSON was stored by one backend and a 500 on the other, and a handler's step text or
error detail with a NUL failed every write of its attempt until the job ended as
`worker_lost`. The rule, the same on every backend: a submit whose params hold a NUL is a
422 naming where it is; what a handler reports (step text, error detail) has each NUL
replaced by U+FFFD; a JSON result holding one is kept faithfully as a file.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"
REPLACEMENT = "\ufffd"


def nul_pointer(value: Any, pointer: str = "") -> str | None:
    """The JSON Pointer (RFC 6901) of the first key or string holding U+0000, or None."""
    if isinstance(value, str):
        return pointer if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if NUL in str(key):
                return here
            found = nul_pointer(item, here)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = nul_pointer(item, f"{pointer}/{i}")
            if found is not None:
                return found
    return None


def scrub(text: str) -> str:
    """`text` with every U+0000 replaced by U+FFFD (the replacement character)."""
    return text.replace(NUL, REPLACEMENT) if NUL in text else text


__all__ = ["NUL", "REPLACEMENT", "nul_pointer", "scrub"]
