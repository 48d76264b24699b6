"""The job answer's own JSON encoding (api/views.py `JobJSONResponse`) gives exactly the
bytes Starlette's JSONResponse gives, and refuses what it refuses."""

from __future__ import annotations

import math

import pytest
from starlette.responses import JSONResponse

from lro.api.views import JobJSONResponse

BODIES: list[object] = [
    {"job_id": "a", "status": "queued", "progress_pct": 12.5, "step": None, "tags": []},
    {"text": 'grüße, 東京, emoji 🚀, quote " and backslash \\', "nested": {"a": [1, 2.0]}},
    {"big": 10**30, "neg": -0.0, "bool": True, "empty": {}},
    [],
]


@pytest.mark.parametrize("body", BODIES)
def test_the_same_bytes_as_starlette(body: object) -> None:
    assert JobJSONResponse(body).body == JSONResponse(body).body


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_as_starlette_refuses_them(value: float) -> None:
    with pytest.raises(ValueError):
        JSONResponse({"x": value})
    with pytest.raises(ValueError):
        JobJSONResponse({"x": value})
