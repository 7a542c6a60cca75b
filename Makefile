# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: test lint demo venv venv-test venv-demo system-deps-test system-deps-demo bench chaos security clean

venv: $(VENV)/.installed

venv-test: $(VENV)/.installed-test

venv-demo: $(VENV)/.installed-demo

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.installed-demo: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[demo]'
	touch $@

system-deps-test:
	bash deploy/install-system-deps.sh test

system-deps-demo:
	bash deploy/install-system-deps.sh demo

# Lint, format and type checks first: a finding fails `make test` (and so CI).
lint: venv-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: venv-test system-deps-test lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# demo/ is not installed (docs/demo.md): it runs from this checkout, make's directory.
demo: venv-demo system-deps-demo
	$(BIN)/python -m demo.run

bench: venv-test system-deps-test
	$(BIN)/python -m benchmarks.bench_metrics_endpoint
	$(BIN)/python -m benchmarks.bench_business

clean:
	rm -rf $(VENV) .demo .pytest_cache build *.egg-info

# The fault suite against the live demo stack (a short form runs in `make test`).
# The attacker's probes of the web config and its figures (docs/security.md); make test runs --short.
security: venv-test
	$(BIN)/python -m benchmarks.security

chaos: venv-test system-deps-test
	$(BIN)/python -m benchmarks.chaos --rounds 3
