# ci-ecs: `make demo` deploys examples/hello to the local sandbox; `make test` runs lint, types and tests.
# Both create their own virtualenv (.venv) and install what they need into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# pytest-xdist workers for `make unit`: two a core, at least 4 (most of a test's time is waiting, so more than the
# cores; 4 on the 2-core machines the suite's timings are taken on, more where CI has more cores); 0 runs in-process.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n * 2 > 4 ? n * 2 : 4 )))
# The slowest test phases `make unit` lists at the end (a module fixture's set-up counts to its module's first test):
# every run, CI's included, shows where the suite's wall time goes. 0 lists none.
PYTEST_DURATIONS ?= 40

.PHONY: demo test lint typecheck unit bench bench-quick bench-push sandbox clean dist wheel-check constraints

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[sandbox]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,sandbox,jenkins]'
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/ci-ecs demo
	@echo "ci-ecs is installed in $(VENV); '. $(BIN)/activate' puts it on PATH (README: Use it)" >&2

sandbox: $(VENV)/.demo-installed
	$(BIN)/ci-ecs sandbox

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check ci_ecs tests bench

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy ci_ecs

unit: $(VENV)/.dev-installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=$(PYTEST_DURATIONS) $(PYTEST_ARGS)

test: lint typecheck unit

# Benchmarks against fabfuel/ecs-deploy and an aws-CLI script on the sandbox (bench/README.md).
bench: $(VENV)/.dev-installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/run.py

bench-quick: $(VENV)/.dev-installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/run.py --quick

bench-push: $(VENV)/.dev-installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/push/run.py

# Release artifacts: sdist and wheel in dist/ (the version is ci_ecs/__init__.py's), checked by twine.
dist: $(VENV)/.dev-installed
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# The wheel alone in a fresh virtualenv runs `ci-ecs --version` and, with the sandbox extra, `ci-ecs sandbox --help`.
wheel-check: dist
	tests/wrappers/wheel_check.sh dist

# Re-pin the wrappers' constraints file to the dependency versions resolved in $(VENV) (after a dependency change).
constraints: $(VENV)/.dev-installed
	$(BIN)/python wrappers/constraints.py --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist
