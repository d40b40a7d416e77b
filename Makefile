# dind-preflight: the two set-up commands are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := $(CURDIR)/.tools
GCL_VERSION := 4.73.0
export PATH := $(CURDIR)/$(BIN):$(TOOLS)/node_modules/.bin:$(PATH)

.PHONY: all test test-random fresh-test demo try-component bench lint docs dist system-deps venv node-tools control-plane clean

all: test

system-deps:
	@bash scripts/install-system-deps.sh

$(BIN)/dind-preflight: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]' --config-settings editable_mode=compat
	@touch $@

venv: $(BIN)/dind-preflight

$(TOOLS)/node_modules/.bin/gitlab-ci-local:
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) gitlab-ci-local@$(GCL_VERSION)

node-tools: $(TOOLS)/node_modules/.bin/gitlab-ci-local

# The real Kubernetes control plane of tests/cluster (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl), built from their Go modules into a cache outside the work tree keyed
# by tests/cluster/tools/go.mod and go.sum: about 10 minutes the first time on 2 cores, then
# found at once.
control-plane:
	@bash scripts/build-control-plane.sh >/dev/null

# The suite in file order (deterministic); the session fails if it changed the machine's network.
test: system-deps venv node-tools control-plane lint
	$(BIN)/pytest -q -p no:cacheprovider -p no:randomly

# The suite in a random order (pytest-randomly); `make test-random SEED=n` replays one order.
test-random: system-deps venv node-tools control-plane
	@seed="$(SEED)"; seed="$${seed:-$$RANDOM$$RANDOM}"; \
	echo "test-random: seed $$seed (make test-random SEED=$$seed replays this order)"; \
	$(BIN)/pytest -q -p no:cacheprovider --randomly-seed="$$seed"

# `make test` in a fresh clone of HEAD (uncommitted changes are not in it), as CI runs it.
fresh-test:
	@set -euo pipefail; dir="$$(mktemp -d "$${TMPDIR:-/tmp}/dind-preflight-fresh.XXXXXX")"; \
	commit="$$(git rev-parse HEAD)"; \
	git status --porcelain | grep -q . && echo "fresh-test: uncommitted changes are not tested" >&2; \
	git clone -q --no-hardlinks "$(CURDIR)" "$$dir/repo"; \
	git -C "$$dir/repo" checkout -q --detach "$$commit"; \
	echo "fresh-test: make test in $$dir/repo at $$commit"; \
	if env -u MAKEFLAGS -u MAKELEVEL $(MAKE) -C "$$dir/repo" test; then rm -rf "$$dir"; \
	else echo "fresh-test: FAILED; the clone is kept in $$dir/repo" >&2; exit 1; fi

lint: venv
	$(BIN)/ruff check preflight tests bench scripts
	$(BIN)/ruff format --check preflight tests bench scripts
	$(BIN)/mypy
	shellcheck .ci/run scripts/*.sh

demo: system-deps venv
	@bash scripts/demo.sh

# The component example of docs/component.md in gitlab-ci-local (shell executor), against a
# healthy dind and the field report's dead one (harness daemons: gitlab-ci-local has no services).
try-component: system-deps venv node-tools
	$(BIN)/python scripts/try_component.py

# README.md and docs/*.md quote the program between `<!-- begin generated: ... -->` markers:
# regenerate them (in a network namespace of its own, so that nothing listens on the example's
# tcp://localhost:2375). tests/test_docs.py fails when they differ.
docs: venv
	unshare -rn sh -c 'ip link set lo up && $(BIN)/python scripts/gen_docs.py'

# The wheel and the sdist, in dist/ (tests/test_dist.py installs the wheel into a clean venv).
dist: venv
	rm -rf dist build
	$(BIN)/python -m build --no-isolation --outdir dist . >/dev/null
	@ls dist

# Every part runs even when an earlier one misses its target (printed MISSED); the exit status
# is non-zero at the end if any missed.
bench: system-deps venv
	@status=0; \
	$(BIN)/python bench/run.py || status=1; \
	$(BIN)/python bench/node_memory.py --kernels 16 || status=1; \
	$(BIN)/python bench/startup_gate.py || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) $(TOOLS) .state .pytest_cache .mypy_cache .ruff_cache dist build
