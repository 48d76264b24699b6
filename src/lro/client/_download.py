"""The `download` plan: stream a result to disk without ever leaving half a file behind.

Bytes go to a hidden temporary file next to the destination (same directory, so the final
`os.replace` is an atomic rename on the same filesystem), which replaces the destination
only once complete and flushed. A transfer that breaks is resumed with `Range` when the
server offered ranges and a validator (`If-Range` makes the server send the whole file
again instead, should the result have changed), and restarted from zero otherwise.

A server whose results live in an object store may answer with a redirect to a short-lived
presigned URL (HTTP-CONTRACT §20). The plan follows it with the same Range headers but
without the client's own headers: the URL carries its own credentials, and an object store
refuses a request that also has an Authorization header (which it must never see anyway).
A resume asks the lro server again, so it never uses a URL that may have expired.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path
from typing import BinaryIO

import httpx

from lro.client._calls import check, exchange
from lro.client._core import Close, Config, Next, Plan, Sleep, header, is_transient, job_path
from lro.client.errors import TransportFailure

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-\d+/(?:\d+|\*)", re.IGNORECASE)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


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


def _fetch(cfg: Config, job_id: str, out: BinaryIO) -> Plan[None]:
    written = 0
    validator: str | None = None
    failures = 0
    while True:
        headers = {"Accept": "*/*", "Accept-Encoding": "identity"}
        if written and validator:
            headers.update({"Range": f"bytes={written}-", "If-Range": validator})
        request = cfg.request("GET", job_path(job_id, "result"), headers=headers)
        ex = yield from exchange(cfg, request, stream=True)
        for _ in range(MAX_REDIRECTS):
            location = header(ex.response, "location")
            if ex.response.status_code not in _REDIRECTS or not location:
                break
            yield Close(ex.response)
            request = httpx.Request(
                "GET",
                request.url.join(location),
                headers=headers,
                extensions=request.extensions,
            )
            ex = yield from exchange(cfg, request, stream=True)
        if ex.response.status_code == 416 and written:
            # We asked for bytes past the end: start over rather than guess.
            yield Close(ex.response)
            written, validator = 0, None
            continue
        response = yield from check(ex.response, streamed=True)
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
