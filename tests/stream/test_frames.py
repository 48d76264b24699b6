"""The stream encodes its frames itself, once per snapshot: byte for byte what
sse-starlette's ServerSentEvent encodes, so the wire did not change."""

from __future__ import annotations

import json

from sse_starlette import ServerSentEvent

from lro.api.stream import PING, frame


def test_frame_is_what_sse_starlette_encodes() -> None:
    data = json.dumps({"step": "a\nb\r\u2028é", "n": [1, 2]}, separators=(",", ":"))
    expected = ServerSentEvent(data=data, event="progress", id="42").encode()
    assert frame(42, "progress", data) == expected


def test_ping_is_a_comment_frame() -> None:
    assert ServerSentEvent(comment="ping").encode() == PING
