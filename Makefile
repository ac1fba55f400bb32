# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv and installs
# what it needs; torch is pinned first so nothing drags in a multi-GB CUDA build on CPU machines
# (override with `make TORCH=torch demo` to keep your own build).
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: install install-dev demo test test-all lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e .
	touch $@

$(DEV): $(RUNTIME) pyproject.toml
	$(PIP) install --quiet -e ".[dev]"
	touch $@

install: $(RUNTIME)
install-dev: $(DEV)

demo: $(RUNTIME)
	$(BIN)/tinylm demo

test: $(DEV)
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(DEV)
	$(BIN)/python -m pytest -q

lint: $(DEV)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(DEV)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
