"""The submit fingerprint's path (api/submit.py `url_path`) is `request.url.path`."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from lro.api.submit import url_path

PATHS = ["/api/v1/noop", "/a b/ü/東京", "/x;y=1/z", "/q?x", "/h#1", "/back\\slash", "/%3F", "//"]


@pytest.mark.parametrize("path", PATHS)
def test_the_same_as_the_url_path(path: str) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "query_string": b"a=1",
        "headers": [(b"host", b"example.test:8000")],
        "server": ("127.0.0.1", 8000),
    }
    request = Request(scope)
    assert url_path(request) == request.url.path
