"""A small S3-like object store on 127.0.0.1 for the download-redirect tests: the place a
result download is redirected to (HTTP-CONTRACT §20).

It serves objects at presigned URLs (`/bucket/KEY?X-Signature=...`), each signature good
for a set number of requests, after which it answers 403 with an S3-style XML error, as
an expired presigned URL does. It honours `Range` (`bytes=N-`, `bytes=N-M`) and `If-Range`
against the object's strong ETag, and logs every request with its headers and the status
it answered, so tests can check what reached it (a Range; never an Authorization).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass
class StoreRequest:
    path: str
    signature: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Object:
    data: bytes
    content_type: str

    @property
    def etag(self) -> str:
        return f'"{hashlib.md5(self.data).hexdigest()}"'


class ObjectStore:
    def __init__(self) -> None:
        self.requests: list[StoreRequest] = []
        self._objects: dict[str, _Object] = {}
        self._uses: dict[str, int] = {}
        self._lock = threading.Lock()
        store = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                store._serve(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        with self._lock:
            self._objects[key] = _Object(data, content_type)

    def etag(self, key: str) -> str:
        return self._objects[key].etag

    def presign(self, key: str, *, base: str | None = None, uses: int = 100) -> str:
        """A URL for `key` good for `uses` requests; `base` to reach it through a proxy."""
        signature = secrets.token_hex(8)
        with self._lock:
            self._uses[signature] = uses
        root = base or f"http://127.0.0.1:{self.port}"
        return f"{root}/bucket/{key}?X-Signature={signature}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        signature = parse_qs(parts.query).get("X-Signature", [""])[0]
        headers = {k.lower(): v for k, v in handler.headers.items()}
        seen = StoreRequest(parts.path, signature, headers)
        with self._lock:
            self.requests.append(seen)
            left = self._uses.get(signature, 0)
            self._uses[signature] = left - 1
            obj = self._objects.get(parts.path.removeprefix("/bucket/"))
        if left <= 0 or obj is None:
            body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            self._answer(handler, seen, 403, {"Content-Type": "application/xml"}, body)
            return
        headers = {"Content-Type": obj.content_type, "ETag": obj.etag, "Accept-Ranges": "bytes"}
        wanted = _RANGE.fullmatch(seen.headers.get("range", ""))
        if_range = seen.headers.get("if-range")
        if wanted is None or (if_range is not None and if_range != obj.etag):
            self._answer(handler, seen, 200, headers, obj.data)
            return
        first = int(wanted[1])
        last = min(int(wanted[2]), len(obj.data) - 1) if wanted[2] else len(obj.data) - 1
        if first >= len(obj.data):
            headers["Content-Range"] = f"bytes */{len(obj.data)}"
            self._answer(handler, seen, 416, headers, b"")
            return
        headers["Content-Range"] = f"bytes {first}-{last}/{len(obj.data)}"
        self._answer(handler, seen, 206, headers, obj.data[first : last + 1])

    @staticmethod
    def _answer(
        handler: BaseHTTPRequestHandler,
        seen: StoreRequest,
        status: int,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        seen.status = status
        handler.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            handler.send_header(name, value)
        handler.send_header("Connection", "close")
        handler.end_headers()
        # A client (or the fault proxy) may cut the transfer short.
        with contextlib.suppress(OSError):
            handler.wfile.write(body)
