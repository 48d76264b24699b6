"""The client alone: what `pip install lro` (without the `server` extra) gives a caller of
an lro-based API must work with none of the server's packages importable.

Each case runs a fresh interpreter whose first act is to put a `sys.meta_path` finder in
front of every other that refuses the `server` extra's packages (and the backend extras'),
exactly as an interpreter without them installed would: `ModuleNotFoundError` with the
package's name. In it, the Python client and the `lro` job commands drive the real
`lro serve` of conftest (started from this, complete, environment); `lro serve | worker |
migrate` and `from lro import LRO` must end with the one message naming the extra.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from tests.cli.conftest import Lro
from tests.cli.test_commands import expected_csv

from lro.extras import BACKEND_PACKAGES, SERVER_EXTRA, SERVER_PACKAGES

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = sorted(SERVER_PACKAGES | BACKEND_PACKAGES)

# Runs before anything of lro: refuses the blocked packages, checks none was loaded by the
# interpreter's start-up (a .pth file, sitecustomize), and at exit reports in a last line
# which of them something tried to import, so a test can tell "refused" from "not asked".
PRELUDE = """
import atexit, importlib.abc, json, sys
BLOCKED = frozenset(json.loads(sys.argv.pop(1)))
assert not BLOCKED & {m.partition(".")[0] for m in sys.modules}, "loaded before the prelude"
ASKED = set()
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        root = name.partition(".")[0]
        if root in BLOCKED:
            ASKED.add(root)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Refuse())
atexit.register(lambda: print("\\nASKED " + json.dumps(sorted(ASKED)), file=sys.stderr))
"""

CLI = PRELUDE + "from lro.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"


def blocked_python(
    code: str, *args: str, env: dict[str, str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `code` in an interpreter without the server's packages; the result with the
    `ASKED` line cut from stderr, and the blocked packages something tried to import."""
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(BLOCKED), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    stderr, _, asked = proc.stderr.rpartition("\nASKED ")
    assert asked, f"the prelude did not run: {proc}"
    proc.stderr = stderr
    return proc, json.loads(asked)


def blocked_lro(lro: Lro, *args: str) -> subprocess.CompletedProcess[str]:
    """`lro ARGS` without the server's packages, which none of the job commands asks for."""
    proc, asked = blocked_python(CLI, *args, env=lro.env, cwd=lro.workdir)
    assert proc.returncode == 0, f"lro {' '.join(args)}: {proc}"
    assert asked == [], f"lro {' '.join(args)} tried to import {asked}"
    return proc


CLIENT_SCRIPT = (
    PRELUDE
    + """
import os
from pathlib import Path
from lro.client import Client
with Client(os.environ["LRO_URL"]) as client:
    job = client.submit("reports.generate", {"rows": 6, "delay_seconds": 0})
    done = client.wait(job.job_id, timeout=30)
    again = client.get(job.job_id)
    listed = [j.job_id for j in client.iter_jobs(operation="reports.generate")]
    last = [e.job.status for e in client.events(job.job_id)][-1]
    path = client.download(job.job_id, Path("client-alone.csv"))
    print(json.dumps({"id": job.job_id, "waited": done.status, "got": again.status,
                      "listed": job.job_id in listed, "last": last,
                      "bytes": path.read_bytes().decode()}))
"""
)


def test_the_python_client_submits_waits_gets_lists_and_downloads(lro: Lro, tmp_path: Path) -> None:
    proc, asked = blocked_python(CLIENT_SCRIPT, env=lro.env, cwd=tmp_path)
    assert proc.returncode == 0, proc
    assert asked == []
    doc = json.loads(proc.stdout.splitlines()[-1])
    assert (doc["waited"], doc["got"], doc["last"]) == ("completed", "completed", "completed")
    assert doc["listed"] is True
    assert doc["bytes"].encode() == expected_csv(6)


def test_the_job_commands_submit_wait_status_list_and_download(lro: Lro, tmp_path: Path) -> None:
    job_id = blocked_lro(lro, "submit", "reports.generate", "rows=4", "delay_seconds=0").stdout
    job_id = job_id.strip()
    waited = json.loads(blocked_lro(lro, "wait", job_id, "--json").stdout)
    assert waited["job_id"] == job_id and waited["status"] == "completed"
    status = json.loads(blocked_lro(lro, "status", job_id, "--json").stdout)
    assert status["status"] == "completed" and status["result_url"].endswith("/result")
    listed = blocked_lro(lro, "jobs", "--operation", "reports.generate", "--json").stdout
    listing = json.loads(listed)
    assert job_id in {item["job_id"] for item in listing["items"]}
    table = blocked_lro(lro, "jobs", "--status", "completed", "--all").stdout
    assert any(row.split()[0] == job_id for row in table.splitlines()[1:])
    out = tmp_path / "alone.csv"
    blocked_lro(lro, "result", job_id, "-o", str(out))
    assert out.read_bytes() == expected_csv(4)


def test_submit_wait_follows_to_the_end(lro: Lro) -> None:
    proc = blocked_lro(lro, "submit", "reports.generate", "rows=3", "delay_seconds=0", "--wait")
    job_id, *progress = proc.stdout.splitlines()
    assert re.fullmatch(r"[0-9a-f-]{36}", job_id)
    assert progress[0] == "0% queued" and "100% done" in progress
    assert any(line.startswith("completed in ") for line in progress)
    assert progress[-1] == f"  download: lro result {job_id} -o FILE"


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_server_commands_name_the_extra_in_one_line(lro: Lro, command: str) -> None:
    text = {**lro.env, "LRO_LOG_FORMAT": "text"}  # json is the default off a terminal
    proc, asked = blocked_python(CLI, command, env=text, cwd=lro.workdir)
    assert proc.returncode == 1, proc
    assert asked, "the command never reached for the server"
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"lro: error: `lro {command}` needs the lro server")
    assert line.endswith(SERVER_EXTRA) and proc.stdout == ""


def test_server_commands_without_the_extra_log_one_json_line(lro: Lro) -> None:
    env = {**lro.env, "LRO_LOG_FORMAT": "json"}
    proc, _ = blocked_python(CLI, "serve", env=env, cwd=lro.workdir)
    assert proc.returncode == 1, proc
    (line,) = proc.stderr.strip().splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and record["message"].endswith(SERVER_EXTRA)


def test_server_names_of_the_package_name_the_extra(lro: Lro) -> None:
    code = PRELUDE + (
        "import lro\nfor name in ('LRO', 'Settings'):\n"
        "    try:\n        getattr(lro, name)\n"
        "    except ImportError as exc:\n        print(exc)\n"
        "from lro import Client, Job\nprint(Client.__name__, Job.__name__)\n"
    )
    proc, asked = blocked_python(code, env=lro.env, cwd=lro.workdir)
    assert proc.returncode == 0, proc
    assert {"fastapi", "pydantic_settings"} & set(asked)
    app, settings, light = proc.stdout.splitlines()
    assert app.startswith("lro.LRO needs the lro server") and app.endswith(SERVER_EXTRA)
    assert settings.startswith("lro.Settings needs the lro server")
    assert light == "Client Job"


def _import_name(requirement: str) -> str:
    return re.split(r"[\[<>=~! ;]", requirement, maxsplit=1)[0].lower().replace("-", "_")


def test_the_blocked_packages_are_the_server_extra_and_the_contract() -> None:
    """The lists this module, lro.extras and import-linter use are the pyproject's."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    server = {_import_name(r) for r in extras["server"]}
    assert server == SERVER_PACKAGES
    base = {_import_name(r) for r in project["project"]["dependencies"]}
    assert base.isdisjoint(SERVER_PACKAGES | BACKEND_PACKAGES)
    contracts = project["tool"]["importlinter"]["contracts"]
    client_side = [c for c in contracts if c["name"].startswith("the client side")]
    assert client_side and all(set(c["forbidden_modules"]) == set(BLOCKED) for c in client_side)
