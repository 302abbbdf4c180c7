# crm-research: two commands do everything on a fresh machine with Python 3.11.
#   make demo   create .venv, install, register the Jupyter kernel, run the demo job -> reports/
#   make test   create .venv (if needed), install, run the whole test suite (tests/ + doctests)
#   make test-fast   the same without tests marked slow (notebook executions), for development
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
KERNEL := crm-research

.PHONY: all env demo test test-fast bench clean help

help:
	@echo "make demo   - set up .venv and run the demo job (writes reports/)"
	@echo "make test   - set up .venv and run the whole test suite and the docstring examples (what CI runs)"
	@echo "make test-fast - the same without the tests marked slow (notebook executions, batches)"
	@echo "make bench  - run the benchmarks in benchmarks/"
	@echo "make clean  - remove .venv and generated reports"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (crm-research)" >/dev/null
	@touch $@

env: $(VENV)/.installed

demo: env
	$(BIN)/crm-research demo

test: env
	$(BIN)/python -m pytest

test-fast: env
	$(BIN)/python -m pytest -m "not slow"

bench: env
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) reports/*/
