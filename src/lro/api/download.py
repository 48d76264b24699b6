"""Serving results from any result store (lro.results): the whole file, one range, or
several (multipart/byteranges), streamed a piece at a time.

One response for every store, so `Range`, `If-Range`, `ETag`, `Last-Modified`,
`Accept-Ranges` and `Content-Disposition` mean the same whether the bytes come from a
local file, the database or an object store:

* The ETag is derived from the result's key and size. A key names one attempt's object,
  which nobody writes once a completion recorded it, so the ETag is a strong validator,
  and the same from every API process on every machine (an mtime would not be).
* Last-Modified is the job's `finished_at`: the result cannot change after that.
* A range nobody can satisfy is a problem+json 416 with `Content-Range: bytes */size`; a
  Range header that cannot be used is ignored (RFC 9110 §14.2): the whole file.
* The first piece is fetched before the status line goes out, so a vanished object is a
  problem+json 500 rather than a 200 that breaks off.
* A client that goes away (and a HEAD, whose body is dropped) stops the reading.
* An object store in redirect mode gets a `307` to its presigned URL instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from email.utils import formatdate
from secrets import token_hex
from urllib.parse import quote

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from lro.api.problems import PROBLEM_MEDIA_TYPE, problem_body
from lro.api.ranges import Span, Unsatisfiable, if_range_allows, requested_spans
from lro.errors import ProblemError
from lro.models import Job, ResultRef
from lro.results import ResultBody, ResultMissing, ResultRedirect, ResultStore


def result_etag(ref: ResultRef) -> str:
    digest = hashlib.sha256(f"{ref.key}\n{ref.size}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def content_disposition(filename: str | None) -> str | None:
    if filename is None:
        return None
    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'


def _missing_detail(job_id: str) -> str:
    return f"The result file of job {job_id!r} is missing on the server."


async def result_response(results: ResultStore, job: Job, ref: ResultRef) -> Response:
    """The answer to a download of `job`'s stored result `ref`."""
    try:
        opened = await results.open(job.id, ref)
    except ResultMissing:
        raise ProblemError(_missing_detail(job.id)) from None
    if isinstance(opened, ResultRedirect):
        return Response(
            status_code=307, headers={"Location": opened.url, "Cache-Control": "no-store"}
        )
    modified = None if job.finished_at is None else job.finished_at.timestamp()
    return ResultResponse(
        opened,
        size=ref.size,
        media_type=ref.content_type,
        filename=ref.filename,
        etag=result_etag(ref),
        last_modified=None if modified is None else formatdate(modified, usegmt=True),
        missing=_missing_detail(job.id),
    )


class ResultResponse(Response):
    def __init__(
        self,
        body: ResultBody,
        *,
        size: int,
        media_type: str,
        filename: str | None,
        etag: str,
        last_modified: str | None,
        missing: str,
    ) -> None:
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self._body = body
        self._size = size
        self._missing = missing
        self.init_headers({"accept-ranges": "bytes", "etag": etag})  # adds the content type
        headers = self.headers
        if last_modified is not None:
            headers["last-modified"] = last_modified
        disposition = content_disposition(filename)
        if disposition is not None:
            headers["content-disposition"] = disposition

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Headers(scope=scope)
        size = self._size
        spans: list[Span] | None = None
        if if_range_allows(
            request.get("if-range"), self.headers["etag"], self.headers.get("last-modified")
        ):
            try:
                spans = requested_spans(request.get("range"), size)
            except Unsatisfiable:
                await self._problem(scope, send, 416, {"content-range": f"bytes */{size}"})
                return
        headers = MutableHeaders(raw=list(self.raw_headers))
        if spans is None:
            status, spans = 200, [(0, size)]
            headers["content-length"] = str(size)
        elif len(spans) == 1:
            (start, stop) = spans[0]
            status = 206
            headers["content-range"] = f"bytes {start}-{stop - 1}/{size}"
            headers["content-length"] = str(stop - start)
        else:
            status = 206
            boundary = token_hex(13)
            ctype = headers["content-type"]
            headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
            headers["content-length"] = str(_multipart_length(spans, boundary, ctype, size))

        first = self._body.chunks(*spans[0])
        try:
            head = await anext(first, b"")
        except ResultMissing:
            await first.aclose()
            await self._problem(scope, send, 500, {})
            return

        async def stream() -> None:
            await send({"type": "http.response.start", "status": status, "headers": headers.raw})
            if len(spans) == 1:
                await _send_all(send, head, first)
            else:
                await _send_parts(send, self._body, spans, head, first, boundary, ctype, size)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        failed: list[BaseException] = []
        try:
            async with anyio.create_task_group() as group:

                async def run() -> None:
                    try:
                        await stream()
                    except Exception as exc:  # re-raised below, not as an ExceptionGroup
                        failed.append(exc)
                    group.cancel_scope.cancel()

                group.start_soon(run)
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()  # the client has gone: stop reading
        finally:
            with anyio.CancelScope(shield=True):
                await first.aclose()
        if failed:
            # Part-way through the body: the server closes the connection, and the client
            # sees a short body (and can resume with Range).
            raise failed[0]

    async def _problem(self, scope: Scope, send: Send, status: int, extra: dict[str, str]) -> None:
        if status == 416:
            detail = (
                f"The requested range does not overlap the artifact, which is "
                f"{self._size} bytes long."
            )
        else:
            detail = self._missing
        body = json.dumps(problem_body(status, detail, instance=scope.get("path"))).encode()
        raw = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            *((k.encode(), v.encode()) for k, v in extra.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


async def _send_all(send: Send, head: bytes, rest: AsyncIterator[bytes]) -> None:
    if head:
        await send({"type": "http.response.body", "body": head, "more_body": True})
    async for piece in rest:
        await send({"type": "http.response.body", "body": piece, "more_body": True})


def _part_header(boundary: str, ctype: str, start: int, stop: int, size: int) -> bytes:
    return (
        f"--{boundary}\r\nContent-Type: {ctype}\r\n"
        f"Content-Range: bytes {start}-{stop - 1}/{size}\r\n\r\n"
    ).encode("latin-1")


def _multipart_length(spans: list[Span], boundary: str, ctype: str, size: int) -> int:
    parts = sum(
        len(_part_header(boundary, ctype, start, stop, size)) + (stop - start) + 2
        for start, stop in spans
    )
    return parts + len(f"--{boundary}--")


async def _send_parts(
    send: Send,
    body: ResultBody,
    spans: list[Span],
    head: bytes,
    first: AsyncIterator[bytes],
    boundary: str,
    ctype: str,
    size: int,
) -> None:
    for i, (start, stop) in enumerate(spans):
        header = _part_header(boundary, ctype, start, stop, size)
        await send({"type": "http.response.body", "body": header, "more_body": True})
        if i == 0:
            await _send_all(send, head, first)
        else:
            rest = body.chunks(start, stop)
            try:
                await _send_all(send, b"", rest)
            finally:
                with anyio.CancelScope(shield=True):
                    await rest.aclose()
        await send({"type": "http.response.body", "body": b"\r\n", "more_body": True})
    closing = f"--{boundary}--".encode()
    await send({"type": "http.response.body", "body": closing, "more_body": True})
