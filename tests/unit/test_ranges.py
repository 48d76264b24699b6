"""Byte ranges (lro.api.ranges): what a Range header asks for, RFC 9110 §14."""

from __future__ import annotations

import pytest

from lro.api.ranges import MAX_RANGES, Unsatisfiable, if_range_allows, requested_spans

SIZE = 100


@pytest.mark.parametrize(
    ("header", "spans"),
    [
        ("bytes=0-9", [(0, 10)]),
        ("bytes=90-", [(90, 100)]),
        ("bytes=-10", [(90, 100)]),
        ("bytes=-1000", [(0, 100)]),  # a suffix longer than the file: all of it
        ("bytes=50-5000", [(50, 100)]),  # the end is clamped
        ("BYTES = 0-0", [(0, 1)]),  # the unit is case-insensitive
        ("bytes=0-4, 10-14", [(0, 5), (10, 15)]),
        ("bytes=10-14,0-4", [(0, 5), (10, 15)]),  # sorted
        ("bytes=0-9,5-19,20-24", [(0, 25)]),  # overlapping and touching: merged
        ("bytes=0-4,500-600", [(0, 5)]),  # the unsatisfiable part is dropped
        ("bytes=0-" + "9" * 5000, [(0, 100)]),  # huge numbers are never parsed
    ],
)
def test_usable_ranges(header: str, spans: list[tuple[int, int]]) -> None:
    assert requested_spans(header, SIZE) == spans


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "lines=0-5",
        "bytes",
        "bytes=",
        "bytes=garbage",
        "bytes=-",
        "bytes=9-2",  # last before first: the whole header is invalid
        "bytes=1-2,x",
        "bytes=0x1-5",
        "bytes=\u0661-5",  # a non-ASCII digit
        "bytes=1 - 2",
        "bytes=" + ",".join(["0-0"] * (MAX_RANGES + 1)),
    ],
)
def test_unusable_headers_mean_the_whole_file(header: str | None) -> None:
    assert requested_spans(header, SIZE) is None


@pytest.mark.parametrize(
    "header",
    ["bytes=100-", "bytes=500-600", "bytes=-0", "bytes=100-200,300-", "bytes=1" + "0" * 30 + "-"],
)
def test_ranges_past_the_end_are_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        requested_spans(header, SIZE)


def test_an_empty_file_satisfies_no_range() -> None:
    with pytest.raises(Unsatisfiable):
        requested_spans("bytes=0-", 0)


def test_if_range() -> None:
    etag, date = '"abc"', "Tue, 01 Dec 2026 10:00:00 GMT"
    assert if_range_allows(None, etag, date)
    assert if_range_allows('"abc"', etag, date)
    assert if_range_allows(date, etag, date)
    assert not if_range_allows('W/"abc"', etag, date)  # weak validators never match
    assert not if_range_allows('"other"', etag, date)
    assert not if_range_allows("Wed, 02 Dec 2026 10:00:00 GMT", etag, date)
    assert not if_range_allows(date, etag, None)
