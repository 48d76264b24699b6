#!/usr/bin/env bash
# lro on PostgreSQL side by side with pgqueuer and procrastinate, in one run, one table.
#
#   bash bench/peers.sh [N] [CONC] [LAT]        # defaults: 10000 20 200 (make bench-pg)
#
# Uses the shared peer harness unmodified (BENCH_PEERS_DIR, default ../shared/bench-peers
# next to the repository). Its own venv, bench/.venv-peers (gitignored), holds pgqueuer,
# procrastinate and this project (`pip install -e .`), so none of them becomes a project
# dependency. Each system gets a database of its own, created when missing, and the
# harness wipes it (DROP SCHEMA public) before each phase: never point these at real data.
#
# Environment: BENCH_PG (server URL without database, default
# postgresql://postgres@127.0.0.1:5432), ROUNDS (default 1: repeat lro, pgqueuer,
# procrastinate round-robin and show min-max ranges), LIBS (default "lro pgqueuer
# procrastinate"), BENCH_OUT (JSON lines file, default bench/results/peers-<time>.jsonl),
# PHASES and PROCS (the harness's --phases, default ABC, and --procs, default 1,2: for a
# quick paired A/B, e.g. LIBS="lro pgqueuer" PHASES=AB PROCS=2 bash bench/peers.sh 5000).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-10000}
CONC=${2:-20}
LAT=${3:-200}
PEERS=${BENCH_PEERS_DIR:-$ROOT/../shared/bench-peers}
PEERS=$(cd "$PEERS" && pwd)
export BENCH_PG=${BENCH_PG:-postgresql://postgres@127.0.0.1:5432}
VENV=$ROOT/bench/.venv-peers
PY=$VENV/bin/python
ROUNDS=${ROUNDS:-1}
LIBS=${LIBS:-lro pgqueuer procrastinate}
PHASES=${PHASES:-ABC}
PROCS=${PROCS:-1,2}
mkdir -p "$ROOT/bench/results"
OUT=${BENCH_OUT:-$ROOT/bench/results/peers-$(date +%Y%m%d-%H%M%S).jsonl}

[ -f "$PEERS/harness.py" ] || { echo "peer harness not found in $PEERS (set BENCH_PEERS_DIR)" >&2; exit 2; }

# The venv: created once, with the peers. The project (its server extra: `from lro import
# LRO`) is installed editable every run (a
# quick no-op when nothing changed), so a dependency added since the venv was made arrives.
if ! "$PY" -c 'import pgqueuer, procrastinate, psycopg, asyncpg' 2>/dev/null; then
  echo "creating $VENV (pgqueuer, procrastinate)" >&2
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q pgqueuer procrastinate "psycopg[binary]" asyncpg
fi
"$PY" -m pip install -q -e "$ROOT[server]" 2>&1 | grep -v '^WARNING: Location' >&2 || true

# One database per system, created when missing.
"$PY" - "$BENCH_PG" bench_lro bench_pgqueuer bench_procrastinate <<'EOF'
import asyncio, sys
import asyncpg

async def main(server: str, names: list[str]) -> None:
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        for name in names:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
                print(f"created database {name}", file=sys.stderr)
    finally:
        await conn.close()

asyncio.run(main(sys.argv[1], sys.argv[2:]))
EOF

run() { # lib
  local lib=$1
  echo "=== $lib $(date +%T)  N=$N conc=$CONC lat=$LAT" >&2
  (
    cd "$PEERS"
    # lib_lro lives in bench/; it reaches the harness through BENCH_PEERS.
    env PYTHONPATH="$ROOT/bench" BENCH_PEERS="$PEERS" \
      LRO_BENCH_STORE="${LRO_BENCH_STORE:-$BENCH_PG/bench_lro}" \
      timeout 600 "$PY" harness.py "lib_$lib" --n "$N" --conc "$CONC" --lat "$LAT" \
      --procs "$PROCS" --phases "$PHASES" --out "$OUT" 2>&1 | grep -E '^\{' | cut -c1-400 >&2
  ) || echo "!!! $lib failed" >&2
}

for _ in $(seq "$ROUNDS"); do
  for lib in $LIBS; do run "$lib"; done
done

echo "raw figures: $OUT" >&2
"$PY" "$ROOT/bench/peers_table.py" "$OUT"
