# One set of commands, the same locally and in CI.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint test-slow test-all test-reliability bench wrk bench-webhooks bench-sse bench-pg bench-limits bench-redis bench-regress bench-all clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## Start the demo service (API + embedded worker) on the embedded SQLite store.
run: $(STAMP)
	$(BIN)/lro serve

## Lint, type-check, check layers, then the tests: everything but the slow suites, plus a
## bounded sample of them (the tests marked `smoke`; tests/conftest.py has the split).
test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

## The slow suites alone: real processes started, killed and waited on (tests/e2e,
## e2e_postgres, redis_interop, reliability), the fuzz and the model at full length.
test-slow: $(STAMP)
	$(BIN)/pytest -m slow

## Everything but the reliability suite's long scenarios: `make test` + `make test-slow`.
test-all: $(STAMP) lint
	$(BIN)/pytest -m 'not reliability'

## The reliability suite (tests/reliability): real processes SIGKILLed, frozen, restarted
## and flooded on SQLite and PostgreSQL, about 15 minutes; ends with a table of verdicts and
## the counts behind them (also written to reliability-table.txt).
test-reliability: $(STAMP)
	RELIABILITY_TABLE=reliability-table.txt $(BIN)/pytest tests/reliability -m 'reliability or not reliability' -rfEX

## Benchmarks: prints a table of figures (see bench/README.md). The HTTP figures need wrk
## (Debian's package, installed here if missing); without it they fall back to httpx clients.
bench: $(STAMP) wrk
	$(BIN)/python bench/run.py $(ARGS)

wrk:
	@command -v wrk >/dev/null || { echo "wrk is missing; installing Debian's wrk package"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk \
	  || { apt-get update && apt-get install -y --no-install-recommends wrk; } \
	  || echo "Could not install wrk: the HTTP figures are driven by httpx clients (a floor)"; }

## Webhook dispatcher: deliveries/s draining 1,000, and what a failing receiver (500 / black
## hole) does to the others' latency; SQLite and PostgreSQL (BENCH_PG). ARGS="--seconds 10"
bench-webhooks: $(STAMP)
	$(BIN)/python bench/webhooks.py --pg $(or $(BENCH_PG),postgresql://postgres@127.0.0.1:5432) $(ARGS)

## One API process holding 1,000 SSE streams on SQLite and PostgreSQL: memory, CPU, delay.
## Needs PostgreSQL on BENCH_PG (default postgresql://postgres@127.0.0.1:5432). ARGS="--window 5"
bench-sse: $(STAMP)
	$(BIN)/python bench/sse.py $(ARGS)

## Workload limits: drain, claim cost and pickup with and without each kind of limit,
## SQLite and PostgreSQL side by side (one table; about a minute).
bench-limits: $(STAMP)
	$(BIN)/python bench/limits.py $(ARGS)

## lro on PostgreSQL side by side with pgqueuer and procrastinate (one run, one table);
## its own venv bench/.venv-peers. Override: make bench-pg ARGS="10000 20 200" ROUNDS=2
bench-pg:
	ROUNDS=$(or $(ROUNDS),1) bash bench/peers.sh $(ARGS)

## lro on Redis (every job a BullMQ job) side by side with plain Python bullmq, one run;
## Redis on 127.0.0.1:6379 (databases 15 and 0 are flushed). make bench-redis ARGS="5000 20 200"
bench-redis: $(STAMP)
	ROUNDS=$(or $(ROUNDS),1) bash bench/redis.sh $(ARGS)

## What this round's features cost a job that uses none of them: drain of lro now against
## lro at the end of v1 (BASE=216624f), round by round, SQLite and PostgreSQL; one table.
## make bench-regress ARGS="10000 20 2"
bench-regress: $(STAMP)
	bash bench/regress.sh $(ARGS)

## Every benchmark above that compares (bench, bench-pg, bench-sse, bench-redis,
## bench-regress), one after the other, then one summary table of the ratios against the
## goals (bench/all.py; about 25 minutes; ARGS="--quick" for a short check of the chain).
bench-all: $(STAMP) wrk
	$(BIN)/python bench/all.py $(ARGS)

clean:
	rm -rf $(VENV) lro.db lro.db-wal lro.db-shm lro.db.wake lro-results reliability-table.txt
