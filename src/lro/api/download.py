"""Serving result artifacts: Starlette's FileResponse, with its error answers fixed.

FileResponse already streams the file and answers `Range` (206, multipart ranges) and
`If-Range`, but its own errors are plain text, and it refuses a malformed `Range` or an
unknown range unit with 400 where RFC 9110 §14.2 says such a header is ignored. This
subclass keeps the streaming and turns those two cases into what the contract wants:
a problem+json 416 (with `Content-Range: bytes */size`), and the whole file for a Range
header it cannot use.
"""

from __future__ import annotations

import json

from starlette.responses import FileResponse
from starlette.types import Message, Receive, Scope, Send

from lro.api.problems import PROBLEM_MEDIA_TYPE, problem_body


class ArtifactResponse(FileResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused: Message | None = None

        async def intercept(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] in (400, 416):
                refused = message
                return
            if refused is None:
                await send(message)

        await super().__call__(scope, receive, intercept)
        if refused is None:
            return
        if refused["status"] == 400:
            # Nothing was sent yet: serve the whole file as if no Range had been asked for.
            headers = [
                (k, v) for k, v in scope["headers"] if k.lower() not in (b"range", b"if-range")
            ]
            await super().__call__({**scope, "headers": headers}, receive, send)
            return
        content_range = dict(refused["headers"]).get(b"content-range", b"bytes */0")
        size = content_range.decode().rpartition("/")[2]
        body = json.dumps(
            problem_body(
                416,
                f"The requested range does not overlap the artifact, which is {size} bytes long.",
                instance=scope.get("path"),
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 416,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"content-range", content_range),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
