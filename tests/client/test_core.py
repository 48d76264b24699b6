"""The client's pure parts, without a server: backoff, Retry-After, error mapping, the
tolerant models, and the promise that Client and AsyncClient offer the same methods."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import httpx
import pytest

import lro.client
from lro.client import (
    ApiError,
    AsyncClient,
    Backoff,
    Client,
    ClientError,
    Conflict,
    JobResource,
    NotFound,
    ServiceUnavailable,
    TransportFailure,
    Unprocessable,
    WaitTimeout,
)
from lro.client._core import Config, parse_retry_after
from lro.client.errors import error_from_response

PUBLIC_METHODS = [
    "cancel",
    "close",
    "delete",
    "download",
    "events",
    "get",
    "iter_jobs",
    "list",
    "operations",
    "result",
    "submit",
    "wait",
    "workers",
]


def test_full_jitter_stays_under_a_capped_exponential_ceiling() -> None:
    backoff = Backoff(base=0.5, cap=4.0)
    assert [backoff.ceiling(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.delay(3, rand=lambda: 0.0) == 0.0
    assert backoff.delay(3, rand=lambda: 0.5) == 1.0
    assert backoff.ceiling(10_000) == 4.0


def test_retry_after_wins_up_to_its_limit() -> None:
    backoff = Backoff(base=0.01, cap=0.02, max_retry_after=60)
    assert backoff.delay(1, retry_after=7, rand=lambda: 0.0) == 7
    assert 7 <= backoff.delay(1, retry_after=7, rand=lambda: 0.99) <= 7.7  # type: ignore[operator]
    assert backoff.delay(1, retry_after=61) is None


def test_config_counts_retries() -> None:
    cfg = Config.create(
        "http://x", api_key=None, prefix="api/v1/", timeout=1, max_retries=2,
        backoff=None, headers=None,
    )  # fmt: skip
    assert cfg.prefix == "/api/v1"
    assert cfg.retry_delay(2) is not None
    assert cfg.retry_delay(3) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Sun, 29 Nov 2026 10:00:30 GMT", 30.0),
        ("Sun, 29 Nov 2026 09:00:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


def test_url_must_be_absolute_http() -> None:
    with pytest.raises(ValueError, match="absolute"):
        Client("localhost:8000")
    with pytest.raises(ValueError, match="absolute"):
        AsyncClient("/api")


def _answer(status: int, body: bytes, content_type: str) -> httpx.Response:
    request = httpx.Request("GET", "http://x/api/v1/jobs/j1")
    return httpx.Response(
        status, content=body, headers={"content-type": content_type}, request=request
    )


def test_problem_answers_map_to_exceptions() -> None:
    body = (
        b'{"type":"t","title":"Conflict","status":409,"detail":"It is done.",'
        b'"job_status":"completed"}'
    )
    error = error_from_response(_answer(409, body, "application/problem+json"), None)
    assert isinstance(error, Conflict) and isinstance(error, ApiError)
    assert error.job_status == "completed"
    assert str(error) == "409 Conflict: It is done."
    assert error.request == "GET http://x/api/v1/jobs/j1"

    errors = b'{"title":"Invalid","detail":"bad","errors":[{"pointer":"/rows","detail":"x"}]}'
    invalid = error_from_response(_answer(422, errors, "application/problem+json"), None)
    assert isinstance(invalid, Unprocessable)
    assert invalid.errors == [{"pointer": "/rows", "detail": "x"}]

    page = b"<html>\n<h1>Bad gateway</h1>\n</html>"
    proxy = error_from_response(_answer(502, page, "text/html"), None)
    assert type(proxy) is ApiError
    assert str(proxy).startswith("502 Bad Gateway: <html>")
    assert "\n" not in str(proxy)

    busy = error_from_response(_answer(503, b"{}", "application/json"), 5.0)
    assert isinstance(busy, ServiceUnavailable)
    assert busy.retry_after == 5.0
    assert str(busy) == "503 Service Unavailable (retry after 5s)"

    assert isinstance(error_from_response(_answer(404, b"", "text/plain"), None), NotFound)


def test_exception_tree() -> None:
    for cls in (ApiError, TransportFailure, WaitTimeout):
        assert issubclass(cls, ClientError)
    assert issubclass(WaitTimeout, TimeoutError)
    assert str(WaitTimeout("j1", 2.5, None)) == "job j1 did not finish within 2.5s"


def test_job_resource_is_a_tolerant_reader() -> None:
    job = JobResource.model_validate(
        {
            "job_id": "j1",
            "status": "paused",
            "shiny_new_field": [1],
            "created_at": "2026-11-29T10:00:00Z",
        }
    )
    assert job.status == "paused" and not job.is_terminal
    assert job.model_extra == {"shiny_new_field": [1]}
    assert job.created_at == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert JobResource(job_id="j2", status="cancelled").is_terminal


def test_both_clients_offer_the_same_methods() -> None:
    for name in PUBLIC_METHODS:
        sync, aio = getattr(Client, name), getattr(AsyncClient, name)
        assert inspect.signature(sync).parameters == inspect.signature(aio).parameters, name
        assert sync.__doc__ == aio.__doc__, name
    for name in ("submit", "get", "list", "cancel", "delete", "download", "result", "wait"):
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name
    assert inspect.isasyncgenfunction(AsyncClient.events)
    assert inspect.isgeneratorfunction(Client.events)
    assert Client.list.__name__ == "list"
    assert "job_id" in str(inspect.signature(Client.wait))


def test_public_names_are_pinned() -> None:
    assert lro.client.__all__ == sorted(lro.client.__all__, key=lambda n: (not n.isupper(), n))
    for name in lro.client.__all__:
        assert getattr(lro.client, name) is not None
