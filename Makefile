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
LLAMACPP := $(VENV)/.installed-llamacpp
CHROMIUM ?= /usr/bin/chromium

.PHONY: install install-dev demo test test-all lint format clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e .
	touch $@

$(DEV): $(RUNTIME) pyproject.toml
	$(PIP) install --quiet -e ".[dev]"
	touch $@

# llama.cpp itself, so the tests can check that it writes tinylm's greedy text from our GGUF
# files. It compiles from source (about 7 minutes on 2 cores, once per .venv); a failed build
# only skips those two tests, which say why.
$(LLAMACPP): $(DEV)
	@echo "building llama.cpp (llama-cpp-python) for the GGUF tests: about 7 minutes on 2 cores, once"
	$(PIP) install --quiet "llama-cpp-python>=0.3" || \
		echo "note: llama-cpp-python did not build; the two llama.cpp tests will be skipped"
	touch $@

# The GUI's browser tests drive Debian's Chromium through Playwright (never `playwright install`,
# which downloads). Installed here when missing and we may (root with apt); otherwise those tests
# skip and say why.
browser:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null && \
		    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }; } || \
		echo "note: no Chromium at $(CHROMIUM); the browser tests will be skipped"

install: $(RUNTIME)
install-dev: $(DEV) browser

demo: $(RUNTIME)
	$(BIN)/tinylm demo

test: $(DEV) $(LLAMACPP) browser
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(DEV) $(LLAMACPP) browser
	$(BIN)/python -m pytest -q

lint: $(DEV)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(DEV)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
