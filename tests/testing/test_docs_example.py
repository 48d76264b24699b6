"""docs/testing.md's worked example is a real application and its real tests: this writes
the page's `# invoices.py` and `# test_invoices.py` blocks to a directory of their own and
runs pytest there, in a fresh process, as a user of lro would."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"```python\n# (?P<name>\w+\.py)\n(?P<code>.*?)```", re.DOTALL)


def test_the_worked_example_passes(tmp_path: Path) -> None:
    files = {m["name"]: m["code"] for m in BLOCK.finditer(PAGE.read_text())}
    assert sorted(files) == ["invoices.py", "test_invoices.py"]
    for name, code in files.items():
        (tmp_path / name).write_text(code)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         "-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function",
         "test_invoices.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=50,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout
