# queuectl developer tasks. Every target that needs Python packages creates .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
DEMO_DB := $(CURDIR)/.demo/queue.db
# Byte-compile queuectl as an installed package would be: with PYTHONDONTWRITEBYTECODE set (as on
# some CI machines) every one-shot command would otherwise compile ~20 modules (~25 ms) per run.
COMPILE := $(BIN)/python -m compileall -q queuectl

.PHONY: help install demo test lint bench bench-quick soak clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# compat: a plain path in a .pth file; the default editable finder adds ~25 ms to every start
	$(BIN)/pip install --quiet -e '.[test,postgres,web,tui]' --config-settings editable_mode=compat
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]' --config-settings editable_mode=compat
	touch $(BENCH_STAMP)

install: $(STAMP)  ## create .venv and install queuectl with its test tools

demo: $(STAMP)  ## enqueue sample jobs, run a worker until they are done, show status
	@$(COMPILE)
	@rm -rf .demo && mkdir -p .demo
	@echo '$$ queuectl enqueue ...'
	@QUEUECTL_DB=$(DEMO_DB) $(BIN)/queuectl enqueue '{"id":"hello","command":"echo Hello QueueCTL"}'
	@QUEUECTL_DB=$(DEMO_DB) $(BIN)/queuectl enqueue '{"id":"slow","command":"sleep 1 && echo done","priority":5}'
	@QUEUECTL_DB=$(DEMO_DB) $(BIN)/queuectl enqueue '{"id":"flaky","command":"exit 3","max_retries":1}'
	@QUEUECTL_DB=$(DEMO_DB) $(BIN)/queuectl enqueue '{"id":"too-slow","command":"sleep 10","timeout":1,"max_retries":0}'
	@seq 1 5 | sed 's/.*/{"id":"batch-&","command":"echo batch job &"}/' | QUEUECTL_DB=$(DEMO_DB) $(BIN)/queuectl enqueue --file - >/dev/null
	@echo '$$ queuectl worker start --concurrency 4 --drain'
	@QUEUECTL_DB=$(DEMO_DB) $(BIN)/queuectl worker start --concurrency 4 --drain
	@echo '$$ queuectl status'
	@QUEUECTL_DB=$(DEMO_DB) $(BIN)/queuectl status
	@echo '$$ queuectl dlq list'
	@QUEUECTL_DB=$(DEMO_DB) $(BIN)/queuectl dlq list
	@echo '$$ queuectl logs hello'
	@QUEUECTL_DB=$(DEMO_DB) $(BIN)/queuectl logs hello
	@echo
	@echo 'See it in the browser: QUEUECTL_DB=$(DEMO_DB) $(BIN)/queuectl dashboard'
	@echo '  then open http://127.0.0.1:8765 (live overview, jobs, DLQ retry, /metrics for Prometheus)'

test: $(STAMP)  ## run the whole test suite (unit, store contract, engine, end to end)
	@$(COMPILE)
	$(BIN)/python -m pytest -q -m "not soak" -n 2

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check queuectl tests benchmarks

bench: $(BENCH_STAMP)  ## the benchmark suite; writes benchmarks/results/latest.json
	@$(COMPILE)
	$(BIN)/python -m benchmarks

bench-quick: $(BENCH_STAMP)  ## a smaller benchmark run (under a minute)
	@$(COMPILE)
	$(BIN)/python -m benchmarks --quick

soak: $(STAMP)  ## long fault-injection runs
	@$(COMPILE)
	$(BIN)/python -m pytest -q -m soak --timeout 900

clean:  ## remove the venv and scratch stores
	rm -rf $(VENV) .demo .pytest_cache benchmarks/results
