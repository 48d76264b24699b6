#!/usr/bin/env bash
# What this round's features cost when a job uses none of them: lro now against lro at the
# end of v1 (BASE, default 216624f: before queues, limits, steps, tags, batches and
# dependencies), both draining the same no-op jobs through the shared peer harness, round
# by round in one run, on SQLite and on PostgreSQL.
#
#   bash bench/regress.sh [N] [CONC] [ROUNDS]     # defaults: 10000 20 2  (make bench-regress)
#
# The base is exported with `git archive` into bench/.base-<rev>/ with its own venv (built
# once); each tree is measured with its own bench/lib_lro.py. Phase B of the harness only
# (batch submit, then one worker process drains). Databases: bench_lro_now / bench_lro_base
# (wiped by the harness), SQLite files in the temp directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-10000}
CONC=${2:-20}
ROUNDS=${3:-2}
BASE=${BASE:-216624f}
PEERS=${BENCH_PEERS_DIR:-$ROOT/../shared/bench-peers}
PEERS=$(cd "$PEERS" && pwd)
BENCH_PG=${BENCH_PG:-postgresql://postgres@127.0.0.1:5432}
BASEDIR=$ROOT/bench/.base-$BASE
mkdir -p "$ROOT/bench/results"
OUT=${BENCH_OUT:-$ROOT/bench/results/regress-$(date +%Y%m%d-%H%M%S).jsonl}
NOW_PY=$ROOT/.venv/bin/python

[ -x "$NOW_PY" ] || { echo "no $NOW_PY: run make first" >&2; exit 2; }
if [ ! -x "$BASEDIR/.venv/bin/lro" ]; then
  echo "building the base $BASE in $BASEDIR" >&2
  rm -rf "$BASEDIR" && mkdir -p "$BASEDIR"
  git -C "$ROOT" archive "$BASE" | tar -x -C "$BASEDIR"
  python3 -m venv "$BASEDIR/.venv"
  "$BASEDIR/.venv/bin/python" -m pip install -q "$BASEDIR" 2>&1 | grep -v '^WARNING: Location' >&2 || true
fi

"$NOW_PY" - "$BENCH_PG" bench_lro_now bench_lro_base <<'PYEOF'
import asyncio, sys
import asyncpg

async def main(server: str, names: list[str]) -> None:
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        for name in names:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

asyncio.run(main(sys.argv[1], sys.argv[2:]))
PYEOF

run() { # which(now|base) backend(sqlite|postgres)
  local which=$1 backend=$2 py tree store
  if [ "$which" = now ]; then py=$NOW_PY; tree=$ROOT; else py=$BASEDIR/.venv/bin/python; tree=$BASEDIR; fi
  if [ "$backend" = sqlite ]; then
    store="sqlite:///${TMPDIR:-/tmp}/lro-regress-$which.db"
  else
    store="$BENCH_PG/bench_lro_$which"
  fi
  echo "=== $which $backend $(date +%T)  N=$N conc=$CONC" >&2
  local line
  line=$(cd "$PEERS" && env PYTHONPATH="$tree/bench" BENCH_PEERS="$PEERS" LRO_BENCH_STORE="$store" \
    timeout 600 "$py" harness.py lib_lro --n "$N" --conc "$CONC" --phases B --procs 1 \
    2>/dev/null | grep -E '^\{"B_batch_1p"' || true)
  echo "$line" | cut -c1-300 >&2
  [ -n "$line" ] && echo "{\"which\": \"$which\", \"backend\": \"$backend\", \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"run\": $line}" >> "$OUT"
}

for _ in $(seq "$ROUNDS"); do
  for backend in sqlite postgres; do
    run base "$backend"
    run now "$backend"
  done
done
echo "raw figures: $OUT" >&2
"$NOW_PY" "$ROOT/bench/regress_table.py" "$OUT"
