"""The Node side of the interop tests: `npm ci` into node/ once (cached by a stamp of
package-lock.json, so a clean clone installs and later runs do not), and the Node
processes (worker.js, board.js) started in a ProcessGroup. Node and npm come from the
machine; the packages from the npm registry. Missing Node fails in CI, skips elsewhere."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.support.procs import LroProcess, ProcessGroup, free_port, wait_for

NODE_DIR = Path(__file__).resolve().parent / "node"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def ensure_node_modules() -> Path:
    """node/node_modules as package-lock.json pins it; installed at most once per lock."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing("node and npm are needed for the Node BullMQ interop tests")
    lock = (NODE_DIR / "package-lock.json").read_bytes()
    stamp = NODE_DIR / "node_modules" / f".lro-installed-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not stamp.exists():
        done = subprocess.run(
            [str(npm), "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            _missing(f"npm ci failed in {NODE_DIR}:\n{done.stdout}\n{done.stderr}")
        stamp.touch()
    return NODE_DIR


def start_node_worker(procs: ProcessGroup, redis_url: str, name: str) -> LroProcess:
    ensure_node_modules()
    proc = procs.start_command(name, ["node", str(NODE_DIR / "worker.js"), redis_url], cwd=NODE_DIR)
    wait_for(
        lambda: "ready" in proc.log(), timeout=30, what=f"{name} to start", diagnostics=proc.log
    )
    return proc


def start_board(procs: ProcessGroup, redis_url: str) -> str:
    ensure_node_modules()
    port = free_port()
    proc = procs.start_command(
        "bull-board", ["node", str(NODE_DIR / "board.js"), redis_url, str(port)], cwd=NODE_DIR
    )
    wait_for(
        lambda: "ready" in proc.log(), timeout=30, what="Bull Board to start", diagnostics=proc.log
    )
    return f"http://127.0.0.1:{port}"
