"""A real S3-protocol server for tests: moto's server (`moto_server`, from the dev extra),
started as a subprocess on 127.0.0.1 and spoken to over HTTP by the same boto3 the `s3`
result store uses. Nothing is patched in-process.

One server serves a whole test session; each test gets a bucket of its own. When the
server cannot be started, tests fail in CI (`CI=true`) and are skipped with a message on a
developer machine, as the PostgreSQL tests are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.procs import free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "lro-test",
    "AWS_SECRET_ACCESS_KEY": "lro-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def env(self) -> dict[str, str]:
        """The standard AWS_* variables that point boto3 (and lro) at this server."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def client(self) -> Any:
        import boto3

        return boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        ).client("s3", endpoint_url=self.endpoint)

    def new_bucket(self) -> str:
        name = f"lro-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _unavailable(reason: str) -> None:
    message = f"could not start moto's S3 server ({reason}); install lro[dev] to run the s3 tests"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _command(port: int) -> list[str] | None:
    script = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if script:
        return [script, "-H", "127.0.0.1", "-p", str(port)]
    with contextlib.suppress(ImportError):
        import moto.server  # noqa: F401

        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return None


@contextlib.contextmanager
def s3_server(timeout: float = 30) -> Iterator[S3Server]:
    """A running moto S3 server, stopped at exit (skips or fails when it cannot start)."""
    port = free_port()
    command = _command(port)
    if command is None:
        _unavailable("moto[server] is not installed")
        raise AssertionError("unreachable")
    log_path = Path(tempfile.mkdtemp(prefix="lro-moto-")) / "moto.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                _unavailable(f"it exited with {process.returncode}: {log_path.read_text()[-500:]}")
            try:
                if httpx.get(f"{endpoint}/moto-api/", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                _unavailable(f"no answer on {endpoint} within {timeout:g} s")
            time.sleep(0.05)
        yield S3Server(endpoint, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(log_path.parent, ignore_errors=True)
