"""The plans that fetch a completed job's result: `result` (into memory) and `download`
(streamed to disk without ever leaving half a file behind). Both follow a redirect to
where the result really is (an object store's presigned URL; see `_redirect`).

Bytes go to a hidden temporary file next to the destination (same directory, so the final
`os.replace` is an atomic rename on the same filesystem), which replaces the destination
only once complete and flushed. A transfer that breaks is resumed with `Range` when the
server offered ranges and a validator (`If-Range` makes the server send the whole file
again instead, should the result have changed), and restarted from zero otherwise. After
a redirect, the resume asks the redirect's target; if that URL has expired meanwhile
(403), the API is asked again and hands out a fresh one.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from lro.client._calls import check
from lro.client._core import (
    Close,
    Config,
    Next,
    Plan,
    Sleep,
    header,
    is_json,
    is_transient,
    job_path,
)
from lro.client._redirect import fetch
from lro.client.errors import ProtocolError, TransportFailure

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-\d+/(?:\d+|\*)", re.IGNORECASE)


def _validator(response: httpx.Response) -> str | None:
    """What to send as If-Range on a resume, or None when this answer cannot be resumed:
    no byte ranges offered, a content coding (ranges would count encoded bytes), or no
    validator to prove the next part belongs to the same file."""
    ranges = (header(response, "accept-ranges") or "").lower()
    if ranges != "bytes" or header(response, "content-encoding"):
        return None
    etag = header(response, "etag")
    if etag and not etag.startswith("W/"):
        return etag  # If-Range needs a strong validator (RFC 9110 §13.1.5)
    return header(response, "last-modified")


def _resumes_at(response: httpx.Response, offset: int) -> bool:
    match = _CONTENT_RANGE.fullmatch((header(response, "content-range") or "").strip())
    return response.status_code == 206 and match is not None and int(match[1]) == offset


def result(cfg: Config, job_id: str) -> Plan[Any]:
    """The completed job's result: the parsed JSON value, or the bytes of an artifact that
    is not JSON (use `download()` for large files). Raises Conflict when the job has not
    completed (its `job_status` says what it is instead)."""
    response = yield from fetch(cfg, cfg.url(job_path(job_id, "result")), {"Accept": "*/*"})
    response = yield from check(response)
    if is_json(response):
        try:
            return response.json()
        except ValueError as exc:
            raise ProtocolError(f"the result of job {job_id} is not valid JSON") from exc
    return response.content


def _fetch(cfg: Config, job_id: str, out: BinaryIO) -> Plan[None]:
    api_url = cfg.url(job_path(job_id, "result"))
    # Where the next request goes: the API, or the redirect target that served the bytes
    # so far, which a resume asks directly (sparing the API a request per break).
    source = api_url
    written = 0
    validator: str | None = None
    failures = 0
    while True:
        headers = {"Accept": "*/*", "Accept-Encoding": "identity"}
        if written and validator:
            headers.update({"Range": f"bytes={written}-", "If-Range": validator})
        response = yield from fetch(cfg, source, headers, stream=True)
        if response.status_code == 403 and source != api_url:
            # The presigned URL we resumed from has expired: the API hands out a fresh one
            # (a 403 on the way from the API itself is a refusal, raised below).
            yield Close(response)
            source = api_url
            continue
        if response.status_code == 416 and written:
            # We asked for bytes past the end: start over rather than guess.
            yield Close(response)
            source, written, validator = api_url, 0, None
            continue
        response = yield from check(response, streamed=True)
        source = response.request.url
        if not _resumes_at(response, written):
            out.seek(0)
            out.truncate()
            written = 0
        validator = _validator(response)
        try:
            while (chunk := (yield Next(response, "bytes"))) is not None:
                out.write(chunk)
                written += len(chunk)
                failures = 0
        except httpx.HTTPError as exc:
            yield Close(response)
            failures += 1
            delay = cfg.retry_delay(failures) if is_transient(exc) else None
            if delay is None:
                raise TransportFailure(
                    f"downloading the result of job {job_id} failed after {written} bytes: {exc!r}",
                    attempts=failures,
                ) from exc
            yield Sleep(delay)
            continue
        yield Close(response)
        return


def download(cfg: Config, job_id: str, path: str | os.PathLike[str]) -> Plan[Path]:
    """Save the completed job's result to `path` and return it. The file appears whole or
    not at all; a broken transfer is resumed where it stopped when the server allows."""
    dest = Path(path)
    part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        # "x": a fresh file with the user's umask, never someone else's file.
        with part.open("xb") as out:
            yield from _fetch(cfg, job_id, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    return dest
