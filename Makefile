# Todo Assistant — developer commands. `make help` lists them.
# `make run` and `make test` set everything up themselves: they install uv when it is missing
# (into .tools/, from PyPI), sync the locked environment, regenerate the gRPC code when protos/
# changed, and migrate.

.DEFAULT_GOAL := help
SHELL := /bin/bash

UV_VERSION := 0.13.9
TOOLS_UV := $(CURDIR)/.tools/bin/uv
UV := $(or $(shell command -v uv 2>/dev/null),$(TOOLS_UV))
PYTEST := $(UV) run --frozen pytest
EMAIL ?= alice@example.com
UV_BOOTSTRAP := $(if $(shell command -v uv 2>/dev/null),,$(TOOLS_UV))

# The generated gRPC code (libs/protos/src/todo) is remade only when one of its inputs is newer
# than the last generation: the .proto files, the generator, or the locked protoc and plugin
# versions (uv.lock). So `make token` in a second terminal does not run protoc at all while
# `make run` imports that code, and when protos/ did change the generator swaps in only the
# files that differ, atomically (scripts/gen_protos.py).
# The code is not committed: a fresh clone generates it here, and so does the image build.
PROTO_INPUTS := $(shell find protos -name '*.proto') scripts/gen_protos.py uv.lock
PROTO_STAMP := libs/protos/.generated.stamp
# A checkout whose generated code went away (a pull that untracked it, a manual delete) has
# nothing the stamp vouches for: forget the stamp so `setup` generates again.
ifeq ($(wildcard libs/protos/src/todo/py.typed),)
$(shell rm -f $(PROTO_STAMP))
endif

# Test suites, one per package; `make test` runs them all.
SUITES := libs/common/tests testkit/tests services/auth/tests services/tasks/tests services/agent/tests edge/tests tests
EXISTING_SUITES = $(foreach s,$(SUITES),$(if $(wildcard $(s)/test_*.py),$(s)))

.PHONY: help setup sync run test test-common test-auth test-tasks test-agent test-edge test-system \
        test-browser test-replicas run-replicas eval-offline check proto proto-check lint typecheck format token bench clean

help: ## Show this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(TOOLS_UV):
	@echo "uv not found: installing uv $(UV_VERSION) into .tools/"
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv==$(UV_VERSION)

setup: $(PROTO_STAMP) ## Install uv if missing, sync the locked environment, regenerate gRPC code if protos/ changed

sync: $(UV_BOOTSTRAP) ## Install uv if missing and sync .venv with uv.lock (a no-op when in sync)
	$(UV) sync --frozen --quiet

$(PROTO_STAMP): $(PROTO_INPUTS) | sync
	$(UV) run --frozen python scripts/gen_protos.py
	@touch $@

run: setup ## Migrate the SQLite databases in data/ (TODO_DATA_DIR) and start every service; Ctrl-C stops
	$(UV) run --frozen python scripts/run_dev.py

run-replicas: setup ## Replicated run on PostgreSQL + Redis: 2 edges behind HAProxy (port 8100), 2 agents, 2 tasks, 1 auth
	$(UV) run --frozen python scripts/run_dev.py replicas

test: setup ## Run every test suite (on PostgreSQL instead of SQLite when TEST_DATABASE_URL is set)
	$(PYTEST) $(EXISTING_SUITES)

test-common: setup ## Tests of the shared libraries
	$(PYTEST) libs/common/tests

test-auth: setup ## Auth service tests
	$(PYTEST) services/auth/tests

test-tasks: setup ## Tasks service tests
	$(PYTEST) services/tasks/tests

test-agent: setup ## Agent service tests
	$(PYTEST) services/agent/tests

test-edge: setup ## Edge (HTTP) tests
	$(PYTEST) edge/tests

test-system: setup ## Cross-service tests (every process started for real), browser tests included
	$(PYTEST) tests

test-browser: setup ## Browser tests only (headless Chromium against real processes)
	$(PYTEST) tests/browser

test-replicas: setup ## Proofs on the replicated stack under load (make run-replicas' launcher; PostgreSQL needed)
	$(PYTEST) -m replicas tests/replicas

eval-offline: setup ## Score the offline model on its evaluation corpus (SET=holdout for the final check)
	$(UV) run --frozen python services/agent/eval/offline/score.py $(or $(SET),dev)

check: proto-check lint test ## What CI runs: proto-check, lint, then every test suite

proto: sync ## Regenerate libs/protos from protos/ now (writes only the files that differ)
	$(UV) run --frozen python scripts/gen_protos.py
	@touch $(PROTO_STAMP)

proto-check: setup ## Fail when libs/protos/src/todo differs from a fresh generation (e.g. a hand edit)
	$(UV) run --frozen python scripts/gen_protos.py --check

lint: setup typecheck ## ruff (lint + format check) and mypy strict
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: setup ## mypy strict over every package (the pre-commit mypy hook runs this)
	$(UV) run --frozen mypy libs/common/src testkit/src services/*/src edge/src scripts

format: setup ## Apply ruff fixes and formatting
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

token: setup ## Print a dev access token for EMAIL (default alice@example.com), creating the user
	@$(UV) run --frozen python scripts/run_dev.py token --email "$(EMAIL)"

bench: setup ## Run the benchmarks under bench/ (see bench/README.md)
	$(UV) run --frozen python -m bench.run_all

clean: ## Remove local data (SQLite files, logs), caches and the generation stamp
	rm -rf data .pytest_cache .mypy_cache .ruff_cache $(PROTO_STAMP)

# The opt-in suite against a real OpenAI-compatible server (issue 14): llama-cpp-python running
# SmolLM2-135M-Instruct, from an environment of its own under .cache/llm (scripts/llm_env.sh;
# the first build compiles llama.cpp, ~5 min on 2 cores). Where that cannot be built, the
# suite's tests skip and say why.
.PHONY: test-llm
test-llm: setup ## Opt-in: the assistant against a real llama-cpp-python server (SmolLM2-135M; builds .cache/llm once)
	-scripts/llm_env.sh
	$(PYTEST) services/agent/tests_llm
