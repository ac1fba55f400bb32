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

.PHONY: install install-dev demo test test-dispatch test-all lint format clean system-packages

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

# Debian packages the tests use, installed when missing and we may (root with apt); otherwise the
# tests that need them skip and say why. Chromium: the GUI's browser tests drive it through
# Playwright (never `playwright install`, which downloads). fonts-wqy-microhei (5 MB): a font
# with Chinese glyphs, so the PNG plots draw Chinese labels (tinylm says so when none exists).
SYSTEM_PACKAGES := chromium fonts-wqy-microhei
system-packages:
	@missing=""; test -x $(CHROMIUM) || missing="chromium"; \
	fc-list 2>/dev/null | grep -qi "wqy\|noto sans cjk" || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null 2>&1 || \
		    { apt-get update -q >/dev/null && \
		      DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; }; } || \
		echo "note: could not install$$missing; the tests that need them will be skipped"; \
	fi

install: $(RUNTIME)
install-dev: $(DEV) system-packages

demo: $(RUNTIME)
	$(BIN)/tinylm demo

# A second CPU dispatch: the suite again with PyTorch's kernels (ATen), oneDNN and MKL held to
# AVX2, as on CPUs without AVX-512 and on AMD, where MKL takes its AVX2 paths. Floats differ there
# (another sampled story, another loss), so a test that only holds on one instruction set fails
# here before it fails for a user on another machine.
SECOND_DISPATCH := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2

test: $(DEV) $(LLAMACPP) system-packages
	$(BIN)/python -m pytest -q -m "not slow"
	@echo "the same suite under a second CPU dispatch: $(SECOND_DISPATCH)"
	$(SECOND_DISPATCH) $(BIN)/python -m pytest -q -m "not slow"

test-dispatch: $(DEV) $(LLAMACPP) system-packages
	$(SECOND_DISPATCH) $(BIN)/python -m pytest -q -m "not slow"

test-all: $(DEV) $(LLAMACPP) system-packages
	$(BIN)/python -m pytest -q

lint: $(DEV)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(DEV)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
