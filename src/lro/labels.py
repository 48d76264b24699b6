"""Tags and metadata of a submit (HTTP-CONTRACT §15): the one place their limits live.

They are reserved submit fields, like `callback_url`, checked the same way for an HTTP
submit, a batch item and `lro.submit(...)`: a bad one is a 422 naming it by JSON Pointer
(under `prefix`, so a batch can say `/jobs/2/tags/0`), and nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

from lro.errors import Unprocessable
from lro.text import nul_pointer

MAX_TAGS = 20
MAX_TAG_CHARS = 64
MAX_METADATA_BYTES = 4096
"""As compact UTF-8 JSON, the form in which it is stored and sent."""


def _refuse(pointer: str, detail: str) -> Unprocessable:
    return Unprocessable(
        f"{pointer}: {detail}",
        extensions={"errors": [{"pointer": pointer, "detail": detail, "type": "value_error"}]},
    )


def check_tags(tags: Any, prefix: str = "") -> tuple[str, ...]:
    """The tags, in order and without repeats; 422 for anything else than a list of at
    most MAX_TAGS strings of 1-MAX_TAG_CHARS printable characters."""
    if tags is None:
        return ()
    if not isinstance(tags, list | tuple):
        raise _refuse(f"{prefix}/tags", "tags must be a list of strings")
    if len(tags) > MAX_TAGS:
        raise _refuse(f"{prefix}/tags", f"at most {MAX_TAGS} tags are allowed, not {len(tags)}")
    for i, tag in enumerate(tags):
        where = f"{prefix}/tags/{i}"
        if not isinstance(tag, str):
            raise _refuse(where, "a tag must be a string")
        if not 1 <= len(tag) <= MAX_TAG_CHARS:
            raise _refuse(where, f"a tag has 1 to {MAX_TAG_CHARS} characters, not {len(tag)}")
        if not tag.isprintable():
            raise _refuse(where, "a tag must be printable text (no control characters)")
    return tuple(dict.fromkeys(tags))


def check_metadata(metadata: Any, prefix: str = "") -> dict[str, Any] | None:
    """The metadata object, or None; 422 unless it is a JSON object of at most
    MAX_METADATA_BYTES (without U+0000, which not every store can keep)."""
    if metadata is None:
        return None
    where = f"{prefix}/metadata"
    if not isinstance(metadata, dict):
        raise _refuse(where, "metadata must be a JSON object")
    try:
        size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise _refuse(where, "metadata must be JSON") from None
    if size > MAX_METADATA_BYTES:
        raise _refuse(where, f"metadata is {size} bytes as JSON; at most {MAX_METADATA_BYTES}")
    nul = nul_pointer(metadata, where)
    if nul is not None:
        raise _refuse(nul, "text must not contain U+0000 (NUL)")
    return metadata
