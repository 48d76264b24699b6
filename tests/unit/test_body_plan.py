"""What the request's framing says of its body against the limit (api/middleware.py
`body_plan`): only a body nothing bounds is counted while it streams."""

from __future__ import annotations

import pytest

from lro.api.middleware import BOUNDED, COUNT, REFUSE, body_plan

LIMIT = 100


def scope(headers: list[tuple[bytes, bytes]], version: str = "1.1") -> dict[str, object]:
    return {"type": "http", "http_version": version, "headers": headers}


@pytest.mark.parametrize(
    ("headers", "version", "plan"),
    [
        ([], "1.1", BOUNDED),  # no body at all (RFC 9112 §6.3)
        ([], "1.0", BOUNDED),
        ([(b"content-length", b"0")], "1.1", BOUNDED),
        ([(b"content-length", b"100")], "1.1", BOUNDED),  # framed, within the limit
        ([(b"Content-Length", b"101")], "1.1", REFUSE),
        ([(b"transfer-encoding", b"chunked")], "1.1", COUNT),
        # Transfer-Encoding overrides Content-Length: the length says nothing then.
        ([(b"content-length", b"5"), (b"transfer-encoding", b"chunked")], "1.1", COUNT),
        ([(b"content-length", b"many")], "1.1", COUNT),
        ([], "2", COUNT),  # HTTP/2 frames bodies without a length: count
        ([(b"content-length", b"10")], "2", COUNT),
    ],
)
def test_plan(headers: list[tuple[bytes, bytes]], version: str, plan: str) -> None:
    assert body_plan(scope(headers, version), LIMIT) == plan
