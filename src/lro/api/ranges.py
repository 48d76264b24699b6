"""Byte ranges (RFC 9110 §14): which part of a result a request asks for.

Pure functions, so every result store answers `Range` and `If-Range` alike. What a
request gets:

* no usable `Range` (absent, another unit, malformed, an invalid range such as `9-2`,
  more than MAX_RANGES parts) -> the whole result, as §14.2 asks of a server that ignores
  the header;
* an `If-Range` that does not match the result's validator -> the whole result;
* ranges none of which overlaps the result -> Unsatisfiable (answered 416);
* otherwise the satisfiable ranges, sorted and merged where they overlap or touch.
"""

from __future__ import annotations

import re

MAX_RANGES = 100
"""More parts than this is abuse rather than a download manager: the whole file instead."""

Span = tuple[int, int]
"""`(start, stop)`: bytes start .. stop - 1."""


class Unsatisfiable(Exception):
    """No requested range overlaps the result."""


_PART = re.compile(r"([0-9]*)-([0-9]*)")
_HUGE = 10**18
"""Stands for any position longer than 18 digits: past the end of every result, and
never parsed (Python refuses to turn very long digit strings into integers)."""


def _pos(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else _HUGE


def _parse_part(part: str, size: int) -> Span | None:
    """One `first-last`, `first-` or `-suffix` (ASCII digits only); None when malformed;
    `(size, size)` when valid but past the end (unsatisfiable)."""
    match = _PART.fullmatch(part)
    if match is None or not (match[1] or match[2]):
        return None
    first, last = match[1], match[2]
    if not first:  # suffix: the last N bytes
        n = _pos(last)
        return (max(size - n, 0), size) if n > 0 else (size, size)
    start = _pos(first)
    if last and _pos(last) < start:
        return None  # an invalid range makes the whole header invalid (§14.1.1)
    stop = size if not last else min(_pos(last) + 1, size)
    return (start, stop) if start < size else (size, size)


def requested_spans(header: str | None, size: int) -> list[Span] | None:
    """The spans to send, or None for the whole result; raises Unsatisfiable."""
    if header is None:
        return None
    unit, eq, spec = header.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    parts = [p.strip() for p in spec.split(",")]
    parts = [p for p in parts if p]
    if not parts or len(parts) > MAX_RANGES:
        return None
    spans: list[Span] = []
    for part in parts:
        span = _parse_part(part, size)
        if span is None:
            return None
        spans.append(span)
    usable = sorted(s for s in spans if s[0] < s[1])
    if not usable:
        raise Unsatisfiable
    merged = [usable[0]]
    for start, stop in usable[1:]:
        last_start, last_stop = merged[-1]
        if start <= last_stop:
            merged[-1] = (last_start, max(last_stop, stop))
        else:
            merged.append((start, stop))
    return merged


def if_range_allows(if_range: str | None, etag: str, last_modified: str | None) -> bool:
    """Whether `Range` may be honoured under `If-Range` (§13.1.5): absent, or the exact
    strong ETag, or the exact Last-Modified date."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith("W/"):
        return False
    return value == etag or (last_modified is not None and value == last_modified)
