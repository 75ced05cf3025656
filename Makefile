# Two commands on a fresh machine (see README):
#   make demo   install what is needed, write the demo exports, run every phase of every
#               demo cycle, and print where the index of HTML reports is
#   make test   install what is needed (Chromium included), then run every test
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cyclebook-installed

.PHONY: install demo test lint golden clean-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# an editable install compiles nothing: where PYTHONDONTWRITEBYTECODE is set, every
	@# process (the runner, its workers, the kernels' zygote) compiled cyclebook from source
	@# on every run, 0.15-0.2 s CPU each (a stale .pyc is ignored: edits still apply)
	$(PY) -m compileall -q src
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cyclebook demo cycles/demo
	$(VENV)/bin/cyclebook run cycles/demo --cycle all

test: $(STAMP)
	bash scripts/install-test-deps.sh
	$(VENV)/bin/ruff check src tests benchmarks notebooks tools
	$(VENV)/bin/ruff format --check src tests benchmarks tools
	$(VENV)/bin/cyclebook demo cycles/demo
	$(PY) -m pytest tests
	@# nbval compares the notebooks' card cells, which judge this cycle against the last
	@# one: both cycles computed first, as `make demo` leaves them (cached when it has)
	$(VENV)/bin/cyclebook run cycles/demo --cycle all
	$(PY) -m pytest --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks notebooks tools
	$(VENV)/bin/ruff format --check src tests benchmarks tools

# Explicit switch: store the outputs nbval compares (cells tagged nbval-check-output).
golden: $(STAMP)
	$(VENV)/bin/cyclebook demo cycles/demo
	$(VENV)/bin/cyclebook run cycles/demo --cycle all
	$(PY) tools/golden.py

clean-demo:
	rm -rf cycles/demo/orgs/*/exports cycles/demo/orgs/*/followup cycles/demo/archive \
	       cycles/demo/store.duckdb* cycles/demo/*/output
