"""What `pip install lro` costs a caller, against `pip install 'lro[server]'`. Not a test.

    python3 bench/client_alone.py [--runs 12] [--keep]

Makes three venvs in a temporary directory (empty; `pip install .`; `pip install
'.[server]'`, from this checkout, through pip's configured index), then prints for each:
the distributions installed, the size of site-packages (`du -sk`), the modules loaded by
`import lro.client`, and over `--runs` runs (interleaved, after one warm-up that writes
the .pyc files) the CPU time (user + sys, steadier than wall clock on a shared machine)
and wall clock of `python -c 'import lro.client'`, `-X importtime`'s cumulative figure for
`lro.client`, and the CPU time of `lro status --help`. Figures: docs/client.md.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"empty": None, "client": str(ROOT), "server": f"{ROOT}[server]"}


def make_venv(base: Path, kind: str) -> Path:
    venv = base / kind
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    target = KINDS[kind]
    if target is not None:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", target]
        subprocess.run(pip, check=True)
    return venv / "bin" / "python"


def site_packages(python: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip())


def du_kib(path: Path) -> int:
    return int(
        subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout.split()[0]
    )


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(python: Path, args: list[str]) -> tuple[float, float]:
    """(CPU ms, wall ms) of one run."""
    cpu, wall = child_cpu(), time.perf_counter()
    subprocess.run([python, *args], capture_output=True, check=True)
    return (child_cpu() - cpu) * 1000, (time.perf_counter() - wall) * 1000


def importtime_ms(python: Path) -> float:
    args: list[str | Path] = [python, "-X", "importtime", "-c", "import lro.client"]
    err = subprocess.run(args, capture_output=True, text=True, check=True).stderr
    line = next(x for x in err.splitlines() if x.rstrip().endswith("| lro.client"))
    return int(line.split("|")[1]) / 1000


def spread(xs: list[float]) -> str:
    return f"{min(xs):.0f}-{max(xs):.0f} ms, median {statistics.median(xs):.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--keep", action="store_true")
    opts = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="lro-client-alone-"))
    try:
        pythons = {kind: make_venv(base, kind) for kind in KINDS}
        empty = du_kib(site_packages(pythons["empty"]))
        for kind in ("client", "server"):
            python = pythons[kind]
            size = du_kib(site_packages(python))
            listed = subprocess.run(
                [python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
            ).stdout.split()
            modules = subprocess.run(
                [python, "-c", "import sys, lro.client; print(len(sys.modules))"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            print(
                f"{kind}: {len(listed)} distributions, site-packages {size / 1000:.1f} MB "
                f"({(size - empty) / 1000:.1f} MB over an empty venv), {modules} modules"
            )
        cases = {
            "import lro.client": ["-c", "import lro.client"],
            "lro status --help": ["-m", "lro.cli", "status", "--help"],
        }
        for name, args in cases.items():
            cpu: dict[str, list[float]] = {"client": [], "server": []}
            wall: dict[str, list[float]] = {"client": [], "server": []}
            for kind in cpu:
                timed(pythons[kind], args)  # warm-up: .pyc files, page cache
            for _ in range(opts.runs):
                for kind in cpu:
                    c, w = timed(pythons[kind], args)
                    cpu[kind].append(c)
                    wall[kind].append(w)
            for kind in cpu:
                print(f"{name:18} {kind:6} CPU {spread(cpu[kind])}; wall {spread(wall[kind])}")
        for kind in ("client", "server"):
            xs = [importtime_ms(pythons[kind]) for _ in range(opts.runs)]
            print(f"{'-X importtime':18} {kind:6} lro.client cumulative {spread(xs)}")
    finally:
        if opts.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base)


if __name__ == "__main__":
    main()
