"""The security headers every answer gets (api/middleware.py), on raw ASGI messages."""

from __future__ import annotations

from lro.api.middleware import add_security_headers


def start(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http.response.start", "status": 200, "headers": list(headers)}


def test_missing_headers_are_added_and_an_answers_own_are_kept() -> None:
    message = start((b"content-type", b"application/json"), (b"Referrer-Policy", b"origin"))
    add_security_headers(message)
    assert message["headers"] == [
        (b"content-type", b"application/json"),
        (b"Referrer-Policy", b"origin"),  # its own, in any case: never overridden
        (b"x-content-type-options", b"nosniff"),
    ]


def test_html_also_may_not_be_framed() -> None:
    message = start((b"content-type", b"Text/HTML; charset=utf-8"))
    add_security_headers(message)
    names = [name for name, _ in message["headers"]]  # type: ignore[attr-defined]
    assert names == [
        b"content-type",
        b"x-content-type-options",
        b"referrer-policy",
        b"content-security-policy",
        b"x-frame-options",
    ]


def test_an_answer_with_every_header_is_left_as_it_was() -> None:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]
    message = start(*headers)
    add_security_headers(message)
    assert message["headers"] == headers
