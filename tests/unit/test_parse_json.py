"""The submit body's JSON parse (api/submit.py `parse_json`) is `json.loads` with the
same options, for every kind of input, answers and errors alike; and canonical_json is
json.dumps with its options."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lro.api.submit import _finite, _reject_constant, parse_json
from lro.submission import canonical_json

BODIES: list[bytes] = [
    b'{"a": 1, "b": [1.5, -0.0, 1e10], "c": "\\u00fc"}',
    '{"text": "grüße 東京 🚀"}'.encode(),
    '{"x": 1}'.encode("utf-16"),
    '{"x": 1}'.encode("utf-16-le"),
    '{"x": 1}'.encode("utf-32"),
    "\ufeff{}".encode(),
    b"NaN",
    b'{"x": Infinity}',
    b'{"x": 1e400}',
    b'{"x": "\\ud800"}',
    b'{"x": "\xed\xa0\x80"}',
    b"[1, 2",
    b"",
    b"  7  ",
    b'{"a": 1} x',
]


def reference(body: bytes) -> Any:
    return json.loads(body, parse_constant=_reject_constant, parse_float=_finite)


def outcome(parse: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "value", parse(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("body", BODIES)
def test_the_same_as_json_loads(body: bytes) -> None:
    assert outcome(parse_json, body) == outcome(reference, body)


@pytest.mark.parametrize(
    "value", [{"b": 1, "a": [2, {"d": None, "c": "ü"}]}, [], "x", 1.5, {"k": float("nan")}]
)
def test_canonical_json_is_json_dumps(value: Any) -> None:
    assert canonical_json(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
