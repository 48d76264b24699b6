"""`s3` results: any S3-compatible object store (AWS S3, MinIO, Ceph, R2, ...), for
deployments that keep files out of the database. Needs the `lro[s3]` extra (boto3).

    LRO_RESULT_STORE=s3://bucket/prefix[?redirect=1&presign_seconds=300]

Objects are `<prefix>/<job_id>/<attempt>/<filename>` (lro.results.base). Credentials,
region and endpoint come from boto3's usual sources: the standard `AWS_*` variables
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` for a
store other than AWS), the shared config files, or an instance role.

Downloads stream through the API by default, each `Range` passed on to the object store
as the same range, so only the bytes asked for cross the network. With `redirect=1` the
API answers `307 Temporary Redirect` to a presigned GET URL valid for `presign_seconds`
(default 300) instead, and the client fetches the object (ranges included) from the
store itself; the API then moves no result bytes at all.

boto3 is synchronous: every call runs in a thread (`asyncio.to_thread`). Its clients are
thread-safe; one is made per store, on first use.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from lro.models import Lease, ResultRef
from lro.results.base import (
    READ_BYTES,
    File,
    ResultMissing,
    ResultRedirect,
    Staging,
    check_job_id,
    content_type_of,
    key_attempt,
    result_key,
    safe_name,
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise RuntimeError(
            "LRO_RESULT_STORE=s3://... needs boto3: install lro with the s3 extra "
            "(pip install 'lro[s3]')"
        ) from None
    return boto3


def _missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    return code in _MISSING_CODES


def disposition(filename: str | None) -> str:
    """Content-Disposition for the object, as the API sends it for the other stores."""
    if not filename:
        return "attachment"
    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'


class S3Body:
    def __init__(self, store: S3ResultStore, key: str) -> None:
        self._store = store
        self._key = key

    async def chunks(self, start: int, stop: int) -> AsyncGenerator[bytes, None]:
        if start >= stop:
            return
        client = await self._store.client()
        try:
            response = await asyncio.to_thread(
                client.get_object,
                Bucket=self._store.bucket,
                Key=self._key,
                Range=f"bytes={start}-{stop - 1}",
            )
        except Exception as exc:
            if _missing(exc):
                raise ResultMissing(f"s3 object {self._key!r} is missing") from None
            raise
        body = response["Body"]
        try:
            left = stop - start
            while left > 0:
                data: bytes = await asyncio.to_thread(body.read, min(READ_BYTES, left))
                if not data:
                    raise ResultMissing(f"s3 object {self._key!r} is shorter than recorded")
                left -= len(data)
                yield data
        finally:
            body.close()  # not in a thread: this also runs when the download is cancelled


class S3ResultStore:
    def __init__(
        self,
        bucket: str,
        prefix: str,
        staging_dir: str | os.PathLike[str],
        *,
        redirect: bool = False,
        presign_seconds: int = 300,
        client: Any = None,
    ) -> None:
        if not bucket:
            raise ValueError("an s3 result store needs a bucket: s3://bucket/prefix")
        if not 1 <= presign_seconds <= 604_800:
            raise ValueError("presign_seconds must be between 1 and 604800 (7 days)")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.redirect = redirect
        self.presign_seconds = presign_seconds
        self._staging = Staging(staging_dir)
        self._client = client
        self._client_lock = threading.Lock()
        if client is None:
            _boto3()  # fail at start-up, not at the first result, when boto3 is missing

    @classmethod
    def from_url(cls, url: str, staging_dir: str | os.PathLike[str]) -> S3ResultStore:
        """`s3://bucket/prefix?redirect=1&presign_seconds=300` (options optional)."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"unsupported s3 result store {url!r}: use s3://bucket/prefix")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(options) - {"redirect", "presign_seconds"}
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} in s3 result store {url!r}")
        flag = options.get("redirect", "0").strip().lower()
        if flag not in _TRUE | _FALSE:
            raise ValueError(f"redirect={flag!r} in {url!r}: use redirect=1 or redirect=0")
        try:
            seconds = int(options.get("presign_seconds", "300"))
        except ValueError:
            raise ValueError(f"presign_seconds in {url!r} must be a whole number") from None
        return cls(
            parts.netloc,
            parts.path,
            staging_dir,
            redirect=flag in _TRUE,
            presign_seconds=seconds,
        )

    async def client(self) -> Any:
        if self._client is None:
            await asyncio.to_thread(self._make_client)
        return self._client

    def _make_client(self) -> None:
        with self._client_lock:
            if self._client is not None:
                return
            boto3 = _boto3()
            from botocore.config import Config

            # SigV4 everywhere: presigned URLs of the older scheme are refused by most
            # regions and by many S3-compatible stores.
            config = Config(signature_version="s3v4", retries={"mode": "standard"})
            self._client = boto3.session.Session().client("s3", config=config)

    def _object(self, key: str) -> str:
        return self.prefix + key

    def staging_path(self, lease: Lease, filename: str) -> Path:
        return self._staging.path(lease, filename)

    async def put_file(self, lease: Lease, file: File) -> ResultRef:
        src = Path(file.path)
        name = safe_name(file.filename or src.name)
        key = result_key(lease, name)
        ctype = content_type_of(file, name)
        size = await asyncio.to_thread(lambda: src.stat().st_size)
        client = await self.client()
        # upload_file switches to a multipart upload for large files (and aborts it on
        # failure), reading the file in parts: never all of it in memory.
        await asyncio.to_thread(
            client.upload_file,
            str(src),
            self.bucket,
            self._object(key),
            ExtraArgs={"ContentType": ctype},
        )
        return ResultRef(key, ctype, size, name)

    async def put_bytes(
        self, lease: Lease, data: bytes, content_type: str, filename: str | None = None
    ) -> ResultRef:
        name = safe_name(filename or "result")
        key = result_key(lease, name)
        client = await self.client()
        await asyncio.to_thread(
            client.put_object,
            Bucket=self.bucket,
            Key=self._object(key),
            Body=data,
            ContentType=content_type,
        )
        return ResultRef(key, content_type, len(data), name)

    async def open(self, job_id: str, ref: ResultRef) -> S3Body | ResultRedirect:
        if not self.redirect:
            return S3Body(self, self._object(ref.key))
        client = await self.client()
        url: str = await asyncio.to_thread(
            client.generate_presigned_url,
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._object(ref.key),
                "ResponseContentType": ref.content_type,
                "ResponseContentDisposition": disposition(ref.filename),
            },
            ExpiresIn=self.presign_seconds,
        )
        return ResultRedirect(url)

    async def end_attempt(self, lease: Lease) -> None:
        await asyncio.to_thread(self._staging.discard, lease)

    async def delete(self, job_id: str, ref: ResultRef) -> None:
        client = await self.client()
        await asyncio.to_thread(client.delete_object, Bucket=self.bucket, Key=self._object(ref.key))

    async def delete_job(self, job_id: str, *, keep: ResultRef | None = None) -> None:
        client = await self.client()
        folder = self._object(check_job_id(job_id) + "/")
        kept = None if keep is None else f"{folder}{key_attempt(keep)}/"
        await asyncio.to_thread(self._delete_under, client, folder, kept)

    def _delete_under(self, client: Any, folder: str, kept: str | None) -> None:
        """Delete every object under `folder` but those under `kept`, 1,000 a request."""
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=folder):
            keys = [
                {"Key": o["Key"]}
                for o in page.get("Contents", [])
                if kept is None or not o["Key"].startswith(kept)
            ]
            if keys:
                client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
