"""A small tmpfs the test mounts (and unmounts), for a filesystem that fills up: the
scenario fills it, then gives it room again with `resize` (`mount -o remount,size=`).

Mounting needs root (the test machines and CI run as root): elsewhere the scenario is
skipped, and in CI (`CI=true`) it fails.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class Tmpfs:
    def __init__(self, path: Path) -> None:
        self.path = path

    def resize(self, size: str) -> None:
        _mount("-o", f"remount,size={size}", str(self.path))

    def fill(self, name: str = "filler") -> int:
        """Write a file until the filesystem is full; returns the bytes written."""
        written = 0
        chunk = b"\0" * 65536
        with (self.path / name).open("wb", buffering=0) as f:
            while True:
                try:
                    written += f.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        # Small writes may still fit in the last partial page: take those too.
        with (self.path / name).open("ab", buffering=0) as f, contextlib.suppress(OSError):
            while f.write(b"\0" * 512):
                written += 512
        return written

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"mount {' '.join(args)}: {done.stderr.strip()}")


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Tmpfs]:
    if os.geteuid() != 0:
        message = "mounting a tmpfs needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield Tmpfs(path)
    finally:
        done = subprocess.run(["umount", str(path)], capture_output=True, check=False)
        if done.returncode != 0:  # something still holds a file: detach it anyway
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
