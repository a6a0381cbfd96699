# The two commands a newcomer needs: `make demo` (the main job) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | sha1sum | cut -c1-12)
SCALE  ?= 0.01
DURATION ?= 300
VIA    ?= sdk
# SECURE=1: the demo's broker over SASL_SSL with ACLs, in a state directory of its own.
SECURE ?=
SECURE_ON := $(filter 1 yes true,$(SECURE))
# KEEP_DATA=1: the demo keeps the previous run's data instead of starting clean.
KEEP_DATA ?=
KEEP_DATA_ON := $(filter 1 yes true,$(KEEP_DATA))
# HOLD=1: after the comparison the demo keeps the worker and gateway (the console) up until Ctrl-C.
HOLD ?=
HOLD_ON := $(filter 1 yes true,$(HOLD))
PYTEST_ARGS ?=
BENCH_ARGS ?=
CHAOS_ARGS ?=
SYSTEM := PYTHON='$(PYTHON)' VENV='$(VENV)' deploy/setup-system.sh

.PHONY: help setup system-packages kafka-jars k8s-tools lock lint typecheck test test-unit test-integration demo bench chaos bench-micro clean

help: ## Show this help.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

# Creating the venv needs Python's venv module (python3-venv on Debian): checked first.
# Every package comes from the lock, each file checked against its hashes (pip itself and
# setuptools too); the project is then installed without resolving anything more.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || { $(SYSTEM) venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

setup: system-packages $(STAMP) kafka-jars k8s-tools ## System packages, virtual environment, dependencies, Kafka jars, k8s validation tools (idempotent).

system-packages: ## Java 17, Maven, Prometheus, Chromium, python3-venv: installed with apt-get as root, else the command to run.
	@$(SYSTEM)

kafka-jars: $(STAMP) ## Fetch Apache Kafka's jars from Maven Central once into the cache.
	$(BIN)/regsosek kafka fetch

# kubeconform (deploy/k8s validation, docs/kubernetes.md) is built from the Go module proxy into
# the venv; the JSON schemas it checks against are prepared once in the cache by tests/k8s_schemas.py.
$(BIN)/kubeconform: | $(STAMP)
	@command -v go > /dev/null 2>&1 || { echo "go is missing; install it: apt-get install -y golang-go" >&2; exit 1; }
	GOBIN=$(abspath $(BIN)) GOTOOLCHAIN=local go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0

k8s-tools: $(STAMP) $(BIN)/kubeconform ## kubeconform and the schemas deploy/k8s is validated against (cached, offline afterwards).
	$(BIN)/python -m tests.k8s_schemas

lock: $(STAMP) ## Re-resolve requirements.lock (pins with hashes) after a pyproject.toml change; commit both.
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links -o $(LOCK) pyproject.toml

lint: $(STAMP) ## ruff (lint + format check).
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy, strict.
	$(BIN)/mypy $(wildcard streams schemas processors sinks monitoring simulator tests benchmarks)

test: setup lint typecheck ## Set up, lint, type-check and run every test (unit, integration, e2e).
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Unit tests only (no broker, no engine).
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

demo: setup ## The main job end to end on the embedded default (SCALE=0.002 DURATION=30: quick look; SECURE=1: Kafka with logins and ACLs).
	$(if $(SECURE_ON),REGSOSEK_STATE_DIR="$${REGSOSEK_STATE_DIR:-.regsosek-secure}") $(BIN)/regsosek demo --scale $(SCALE) --duration $(DURATION) --via $(VIA) $(if $(SECURE_ON),--secure) $(if $(KEEP_DATA_ON),--keep-data) $(if $(HOLD_ON),--hold)

bench: setup ## End-to-end benchmark on the local real stack (BENCH_ARGS=--quick for a 2 min smoke).
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

chaos: setup ## Chaos soak: 200,000 households through a 3-broker cluster with broker, worker, engine and gateway faults (CHAOS_ARGS='--households 20000 --send-seconds 300 --worker-kills 4' for a shorter one).
	$(BIN)/python -m benchmarks.chaos $(CHAOS_ARGS)

bench-micro: $(STAMP) ## Micro-benchmarks (pytest-benchmark): decode, rules, enrichment, row building.
	$(BIN)/pytest tests/unit/test_bench_micro.py --benchmark-only $(PYTEST_ARGS)

clean: ## Stop the local broker; keep data. Remove the venv with `rm -rf .venv`.
	-$(BIN)/regsosek kafka stop
