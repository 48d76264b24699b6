#!/usr/bin/env bash
# lro on Redis (every job a BullMQ job) side by side with plain Python bullmq, one run.
#
#   bash bench/redis.sh [N] [CONC] [LAT]        # defaults: 5000 20 200 (make bench-redis)
#
# Uses the shared peer harness unmodified (BENCH_PEERS_DIR, default ../shared/bench-peers
# next to the repository) with the project's venv, which has lro and the bullmq package
# (the dev extra). Redis on 127.0.0.1:6379: lro uses database 15 (LRO_BENCH_REDIS), the
# shared bullmq adapter database 0; each is flushed before every phase, so never run this
# against a Redis holding data you want to keep. Environment: ROUNDS (default 1),
# LIBS (default "lro bullmq"), BENCH_OUT (JSON lines, default bench/results/redis-<time>.jsonl).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-5000}
CONC=${2:-20}
LAT=${3:-200}
PEERS=${BENCH_PEERS_DIR:-$ROOT/../shared/bench-peers}
PEERS=$(cd "$PEERS" && pwd)
PY=$ROOT/.venv/bin/python
ROUNDS=${ROUNDS:-1}
LIBS=${LIBS:-lro bullmq}
STORE=${LRO_BENCH_REDIS:-redis://127.0.0.1:6379/15}
mkdir -p "$ROOT/bench/results"
OUT=${BENCH_OUT:-$ROOT/bench/results/redis-$(date +%Y%m%d-%H%M%S).jsonl}

[ -f "$PEERS/harness.py" ] || { echo "peer harness not found in $PEERS (set BENCH_PEERS_DIR)" >&2; exit 2; }
"$PY" -c 'import bullmq, redis, lro' || { echo "run make first (the dev extra has bullmq)" >&2; exit 2; }

run() { # lib
  local lib=$1
  echo "=== $lib $(date +%T)  N=$N conc=$CONC lat=$LAT" >&2
  (
    cd "$PEERS"
    env PYTHONPATH="$ROOT/bench" BENCH_PEERS="$PEERS" LRO_BENCH_STORE="$STORE" \
      timeout 600 "$PY" harness.py "lib_$lib" --n "$N" --conc "$CONC" --lat "$LAT" \
      --procs 1 --out "$OUT" 2>&1 | grep -E '^\{' | cut -c1-400 >&2
  ) || echo "!!! $lib failed" >&2
}

for _ in $(seq "$ROUNDS"); do
  for lib in $LIBS; do run "$lib"; done
done

echo "raw figures: $OUT" >&2
"$PY" "$ROOT/bench/peers_table.py" "$OUT"
