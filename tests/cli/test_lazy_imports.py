"""Each `lro` command loads only its own side: `lro --help` and the job commands (clients
of a running server) never import the server (FastAPI, uvicorn, asyncpg, the store), and
`lro serve | worker | migrate` never import the client or rich. Each case runs in a fresh
interpreter, since this one has imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVER = {"fastapi", "uvicorn", "asyncpg", "starlette", "lro.app", "lro.store", "lro.worker"}
CLIENT = {"rich", "httpx", "lro.client", "lro.cli.jobs"}

PROBE = """
import json, sys
from lro.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def loaded(argv: list[str]) -> set[str]:
    """The modules (and their parent packages) imported by running `lro ARGV`."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    )
    names: list[str] = json.loads(done.stdout.splitlines()[-1])
    return {".".join(n.split(".")[: i + 1]) for n in names for i in range(n.count(".") + 1)}


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["status", "--help"], ["submit", "op", "--url", "localhost:8000"]],
    ids=["help", "status-help", "submit-usage-error"],
)
def test_help_and_the_job_commands_never_import_the_server(argv: list[str]) -> None:
    assert loaded(argv) & SERVER == set()


def test_help_imports_no_command_module() -> None:
    assert loaded(["--help"]) & (CLIENT | {"lro.cli.server"}) == set()


def test_server_commands_never_import_the_client() -> None:
    assert loaded(["migrate", "--help"]) & CLIENT == set()
